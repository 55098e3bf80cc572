package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		tty   bool
		total int
		want  []string
	}{
		{"terminal with total", true, 4, []string{"\rsend ███████████████░░░░░░░░░░░░░░░  50% 2/4 1/s\x1b[K",
			"\rsend ██████████████████████████████ 100% 4/4 2/s\x1b[K\n"}},
		{"terminal without total", true, 0, []string{"\rlisting 4 2/s\x1b[K\n"}},
		{"pipe", false, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			label := "send"
			if tt.total == 0 {
				label = "listing"
			}
			p := newProgress(&b, tt.tty, label, tt.total)
			clock := now
			p.now = func() time.Time { return clock }
			p.start = now
			clock = now.Add(2 * time.Second)
			p.set(2)
			p.set(3) // within minGap: not drawn
			p.set(4)
			p.done()
			out := b.String()
			if tt.want == nil {
				if out != "" {
					t.Fatalf("drew on a pipe: %q", out)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			if strings.Contains(out, "3/4") {
				t.Errorf("redrew within the minimum gap: %q", out)
			}
		})
	}
}
