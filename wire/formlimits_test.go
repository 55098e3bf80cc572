package wire

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/proctest"
)

// manyFields is a body of n distinct empty fields ("f0&f1&…"): 160 000 of them are 1.3 MB.
func manyFields(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("f")
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// TestManyFieldsLinear: 160 000 distinct empty fields are BAD_PACKET "too many fields" within milliseconds of
// CPU (the bound is 100 ms, a second under the race detector; a duplicate check that scans the fields so
// far needs seconds), and the fields a sender may add are still accepted up to the cap.
// Not parallel: proctest.CPUTime counts the whole process.
func TestManyFieldsLinear(t *testing.T) {
	body := manyFields(160000)
	bound := 100 * time.Millisecond
	if raceEnabled {
		bound *= 10
	}
	for _, name := range []string{"ParseForm", "ReadForm"} {
		t.Run(name, func(t *testing.T) {
			start := proctest.CPUTime()
			var err error
			for i := 0; i < 10; i++ {
				if name == "ParseForm" {
					_, err = ParseForm(body)
				} else {
					_, err = ReadForm(httptest.NewRequest("POST", "/", strings.NewReader(body)), 0)
				}
			}
			d := (proctest.CPUTime() - start) / 10
			if CodeOf(err) != CodeBadPacket || !strings.Contains(err.Error(), "too many fields") {
				t.Fatalf("err = %v, want BAD_PACKET too many fields", err)
			}
			if d > bound {
				t.Errorf("%v of CPU per request of %d bytes, want under %v", d, len(body), bound)
			}
			t.Logf("%d fields, %d bytes: BAD_PACKET after %v of CPU", 160000, len(body), d)
		})
	}
	if f, err := ParseForm(manyFields(maxFields)); err != nil || len(f) != maxFields {
		t.Errorf("%d fields: %d, %v", maxFields, len(f), err)
	}
	if _, err := ParseForm(manyFields(maxFields+1) + "&&&"); CodeOf(err) != CodeBadPacket {
		t.Errorf("%d fields: %v, want BAD_PACKET", maxFields+1, err)
	}
	// Empty pairs are not fields.
	if f, err := ParseForm(strings.Repeat("&", 1<<20) + "A=1"); err != nil || len(f) != 1 {
		t.Errorf("a run of empty pairs: %v %v", f, err)
	}
}

// TestReadFormDeclaredLength: a request that announces 8 MiB and sends ten bytes costs what it sent, not what
// it announced.
// Not parallel: it reads the allocations of the whole process.
func TestReadFormDeclaredLength(t *testing.T) {
	const declared = 8 << 20
	body := "A=1&B=2345"
	reqs := make([]*http.Request, 10)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader(body), bytes.NewReader(nil)))
		reqs[i].ContentLength = declared
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, r := range reqs {
		if f, err := ReadForm(r, 0); err != nil || len(f) != 2 {
			t.Fatalf("fields %v, %v", f, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(reqs)); per > declared/16 {
		t.Errorf("%d bytes allocated per request that announced %d and sent %d", per, declared, len(body))
	}
	// A body larger than the first buffer still arrives whole.
	big := "DATA=" + strings.Repeat("x", 3*startBuffer)
	r := httptest.NewRequest("POST", "/", strings.NewReader(big))
	if f, err := ReadForm(r, 0); err != nil || len(f.Get("DATA")) != 3*startBuffer {
		t.Fatalf("big body: %d bytes, %v", len(f.Get("DATA")), err)
	}
}
