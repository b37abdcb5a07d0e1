package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestGrowthPlateau runs a small steady load for 12 simulated days. With a
// retention of two days the file stops growing once retention is reached,
// and the outbox and the store keep about retention times the rate. With a
// retention longer than the run nothing is pruned, so the file keeps
// growing: the check can fail.
func TestGrowthPlateau(t *testing.T) {
	t.Parallel()
	const (
		days        = 12
		smsPerDay   = 120
		sendsPerDay = 48
		perDay      = smsPerDay + sendsPerDay
		// The size at the end may exceed the size at day 5 by this much
		// and still count as a plateau.
		limit = 1.10
	)
	for _, tc := range []struct {
		name      string
		retention time.Duration
		plateau   bool
	}{
		{name: "retention two days", retention: 48 * time.Hour, plateau: true},
		{name: "retention longer than the run", retention: 30 * 24 * time.Hour, plateau: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			g, err := MeasureGrowth(ctx, GrowthOptions{
				Days: days, SMSPerDay: smsPerDay, SendsPerDay: sendsPerDay, Retention: tc.retention,
				Dir: t.TempDir(), HourTimeout: 2 * time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Days) != days {
				t.Fatalf("%d days measured, want %d", len(g.Days), days)
			}
			if want := int64(days * perDay); g.Delivered != want {
				t.Errorf("%d webhooks delivered, want %d", g.Delivered, want)
			}
			var table bytes.Buffer
			g.WriteTable(&table)
			t.Logf("\n%s", table.String())

			day5, end := g.Days[4], g.Days[days-1]
			// The file grows in steps: the pages up to the
			// high-water mark show growth between two steps.
			grew := float64(end.FileSize) > limit*float64(day5.FileSize) || float64(end.Pages) > limit*float64(day5.Pages)
			if grew == tc.plateau {
				t.Errorf("day 5: file %d bytes, %d pages; day %d: %d bytes, %d pages: grew more than %.0f%%: %v, want %v",
					day5.FileSize, day5.Pages, days, end.FileSize, end.Pages, 100*(limit-1), grew, !tc.plateau)
			}
			if _, ok := g.Plateau(PlateauLimit); ok != tc.plateau {
				t.Errorf("Plateau() = %v, want %v", ok, tc.plateau)
			}

			// Retention keeps each hour's events (and sends) for
			// retention after the hour, plus the hour in progress.
			hours := min(int(tc.retention/time.Hour)+1, days*24)
			maxEvents := hours * ceilDiv(perDay, 24)
			maxSends := hours * ceilDiv(sendsPerDay, 24)
			for _, d := range g.Days {
				if d.Events > maxEvents || d.Sends > maxSends {
					t.Errorf("day %d keeps %d events and %d sends; retention %s at this rate keeps at most %d and %d",
						d.Day, d.Events, d.Sends, tc.retention, maxEvents, maxSends)
				}
			}
			if !tc.plateau && (end.Events != days*perDay || end.Sends != days*sendsPerDay) {
				t.Errorf("retention longer than the run pruned something: %d events and %d sends kept of %d and %d",
					end.Events, end.Sends, days*perDay, days*sendsPerDay)
			}
			if tc.plateau && (end.Events < maxEvents*9/10 || end.Sends < maxSends*9/10) {
				t.Errorf("day %d keeps only %d events and %d sends; retention %s should keep about %d and %d",
					days, end.Events, end.Sends, tc.retention, maxEvents, maxSends)
			}
		})
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// TestGrowthPlateauVerdict checks the verdict on fixed curves: file sizes
// in MiB and page counts (nil: 256 pages every day).
func TestGrowthPlateauVerdict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int64
		pages []int
		want  bool
	}{
		{name: "flat", sizes: []int64{1, 2, 4, 4, 4, 4, 4, 4, 4}, want: true},
		{name: "steady growth", sizes: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "a step in the last third", sizes: []int64{1, 2, 2, 2, 2, 2, 2, 4, 4}},
		{name: "a small rise in the last third", sizes: []int64{100, 100, 100, 100, 100, 100, 100, 104, 105}, want: true},
		{name: "a peak that came back", sizes: []int64{1, 2, 2, 2, 2, 2, 2, 3, 2}},
		{name: "pages grow between two steps of the file", sizes: []int64{1, 2, 4, 4, 4, 4, 4, 4, 4},
			pages: []int{200, 400, 600, 700, 800, 850, 900, 950, 1000}},
		{name: "pages flat, a few freed and reused", sizes: []int64{1, 2, 4, 4, 4, 4, 4, 4, 4},
			pages: []int{200, 400, 600, 610, 600, 605, 600, 610, 612}, want: true},
		{name: "too short to tell", sizes: []int64{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Growth{Options: GrowthOptions{Days: len(tc.sizes), Retention: time.Hour}}
			for i, s := range tc.sizes {
				d := GrowthDay{Day: i + 1, FileSize: s << 20, Pages: 256}
				if tc.pages != nil {
					d.Pages = tc.pages[i]
				}
				g.Days = append(g.Days, d)
			}
			if _, ok := g.Plateau(PlateauLimit); ok != tc.want {
				t.Errorf("Plateau = %v, want %v", ok, tc.want)
			}
			var buf bytes.Buffer
			g.WriteTable(&buf)
			if verdict := strings.Contains(buf.String(), "\nplateaued:"); len(tc.sizes) >= 3 && verdict != tc.want {
				t.Errorf("table says plateaued %v, want %v:\n%s", verdict, tc.want, buf.String())
			}
		})
	}
}
