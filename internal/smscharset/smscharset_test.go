package smscharset

import (
	"sync"
	"testing"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// TestConcurrentFirstUse encodes and decodes in every national language
// from several goroutines at once, as several phones do. Under the race
// detector (CI runs it) it fails if any table is still built lazily.
func TestConcurrentFirstUse(t *testing.T) {
	texts := []string{"plain GSM 7-bit", "extension table: €[]{}", "Türkçe ğüşıöç", "español ñ á", "emoji 😀 needs UCS-2"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, text := range texts {
				pdus, err := sms.Encode([]byte(text), sms.To("+33612345678"), sms.AsSubmit, sms.AllCharsetsOption{})
				if err != nil {
					t.Errorf("goroutine %d: encode %q: %v", g, text, err)
					return
				}
				segs := make([]*tpdu.TPDU, len(pdus))
				for i := range pdus {
					segs[i] = &pdus[i]
				}
				got, err := sms.Decode(segs)
				if err != nil || string(got) != text {
					t.Errorf("goroutine %d: decode %q: %q, %v", g, text, got, err)
				}
			}
		}()
	}
	wg.Wait()
}
