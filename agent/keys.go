package agent

import "encoding/binary"

// u64key encodes n as an 8-byte big-endian bbolt key, so keys sort as numbers.
func u64key(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}
