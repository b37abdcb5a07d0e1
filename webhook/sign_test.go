package webhook

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// vector is one independently computed signature case (testdata/vectors.json).
type vector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	RandomID  string `json:"random_id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Legacy    string `json:"legacy"`
	Standard  string `json:"standard"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Vectors []vector }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return doc.Vectors
}

// TestSpecVector is SPEC §2's vector, computed by RaspiSMS's own PHP.
func TestSpecVector(t *testing.T) {
	got := LegacySignature("0123456789abcdef0123456789abcdef", "1700000000-abababababababababababababababab")
	if want := "5ad99f737c4c2487cf244480463ea9a72e1b68d471ae25e52fc497cb4ad832e2"; got != want {
		t.Fatalf("LegacySignature = %s, want %s", got, want)
	}
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if got := LegacySignature(v.Secret, v.RandomID); got != v.Legacy {
				t.Errorf("legacy = %s, want %s", got, v.Legacy)
			}
			key, err := SecretKey(v.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if got := StandardSignature(key, v.RandomID, v.Timestamp, []byte(v.Body)); got != v.Standard {
				t.Errorf("standard = %s, want %s", got, v.Standard)
			}
			if err := VerifyLegacy(v.Secret, v.RandomID, v.Legacy); err != nil {
				t.Errorf("VerifyLegacy: %v", err)
			}
			h := http.Header{}
			h.Set(HeaderID, v.RandomID)
			h.Set(HeaderTimestamp, strconv.FormatInt(v.Timestamp, 10))
			h.Set(HeaderSignature, v.Standard)
			if err := VerifyStandard([]string{v.Secret}, h, []byte(v.Body), time.Unix(v.Timestamp, 0), 0); err != nil {
				t.Errorf("VerifyStandard: %v", err)
			}
		})
	}
}

func TestSecretKey(t *testing.T) {
	tests := []struct {
		secret  string
		want    string
		wantErr bool
	}{
		{"plain", "plain", false},
		{"whsec_aGVsbG8=", "hello", false},
		{"whsec_not base64!", "", true},
		{"WHSEC_aGVsbG8=", "WHSEC_aGVsbG8=", false}, // the prefix is case-sensitive
	}
	for _, tt := range tests {
		got, err := SecretKey(tt.secret)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("SecretKey(%q) = %q, %v", tt.secret, got, err)
		}
	}
}

func TestNewRandomID(t *testing.T) {
	a, err := NewRandomID(1700000000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewRandomID(1700000000)
	if a == b {
		t.Error("two random ids are equal")
	}
	if len(a) != len("1700000000-")+32 || a[:11] != "1700000000-" {
		t.Errorf("random id %q", a)
	}
	for _, c := range a[11:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			t.Fatalf("random id %q is not lowercase hex", a)
		}
	}
}

// TestRotationVector checks the encoder's two-secret header against one
// computed outside this code (testdata/vectors.json "rotation"), and that a
// receiver holding either secret, or both, verifies it.
func TestRotationVector(t *testing.T) {
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rotation struct {
			Secrets   []string `json:"secrets"`
			RandomID  string   `json:"random_id"`
			Timestamp int64    `json:"timestamp"`
			Body      string   `json:"body"`
			Header    string   `json:"header"`
		} `json:"rotation"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Rotation
	keys, err := keysOf(r.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if got := signatureHeader(keys, r.RandomID, r.Timestamp, []byte(r.Body)); got != r.Header {
		t.Fatalf("header %s\nwant   %s", got, r.Header)
	}
	h := http.Header{}
	h.Set(HeaderID, r.RandomID)
	h.Set(HeaderTimestamp, strconv.FormatInt(r.Timestamp, 10))
	h.Set(HeaderSignature, r.Header)
	for _, secrets := range [][]string{{r.Secrets[0]}, {r.Secrets[1]}, {"unrelated", r.Secrets[1]}, r.Secrets} {
		if err := VerifyStandard(secrets, h, []byte(r.Body), time.Unix(r.Timestamp, 0), 0); err != nil {
			t.Errorf("receiver with %q: %v", secrets, err)
		}
	}
	if err := VerifyStandard([]string{"unrelated"}, h, []byte(r.Body), time.Unix(r.Timestamp, 0), 0); err == nil {
		t.Error("an unrelated secret verified")
	}
}
