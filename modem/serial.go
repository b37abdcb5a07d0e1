//go:build !linux

package modem

import (
	"io"

	"go.bug.st/serial"
)

// openSerial opens a serial port at baud, 8N1, raw, without flow control.
// (On Linux it is serial_linux.go's, which is safe to close while in use.)
func openSerial(path string, baud int) (io.ReadWriteCloser, error) {
	return serial.Open(path, &serial.Mode{BaudRate: baud})
}
