package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a progress line on a terminal and nothing otherwise. total 0 means unknown: a counter
// instead of a bar.
type progress struct {
	w      io.Writer
	on     bool
	label  string
	total  int
	start  time.Time
	last   time.Time
	n      int
	drawn  bool
	width  int
	now    func() time.Time
	minGap time.Duration
}

func newProgress(w io.Writer, tty bool, label string, total int) *progress {
	p := &progress{w: w, on: tty, label: label, total: total, width: 30, now: time.Now, minGap: 50 * time.Millisecond}
	p.start = p.now()
	return p
}

// set records n units done and redraws at most every minGap.
func (p *progress) set(n int) {
	p.n = n
	if !p.on {
		return
	}
	now := p.now()
	if p.drawn && now.Sub(p.last) < p.minGap && n != p.total {
		return
	}
	p.last = now
	p.drawn = true
	fmt.Fprint(p.w, "\r"+p.line(now)+"\x1b[K")
}

func (p *progress) line(now time.Time) string {
	rate := ""
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = fmt.Sprintf(" %.0f/s", float64(p.n)/el)
	}
	if p.total <= 0 {
		return fmt.Sprintf("%s %d%s", p.label, p.n, rate)
	}
	filled := p.width * p.n / p.total
	if filled > p.width {
		filled = p.width
	}
	bar := strings.Repeat("█", filled) + strings.Repeat("░", p.width-filled)
	return fmt.Sprintf("%s %s %3d%% %d/%d%s", p.label, bar, 100*p.n/p.total, p.n, p.total, rate)
}

// done ends the progress line.
func (p *progress) done() {
	if p.on && p.drawn {
		fmt.Fprint(p.w, "\r"+p.line(p.now())+"\x1b[K\n")
	}
}
