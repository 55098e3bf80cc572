package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// phpPath returns the php binary, skipping the test when php is not installed (failing under CI=true,
// where .ci/run installs php-cli).
func phpPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php is not installed: CI must run the PHP interop tests (.ci/run installs php-cli)")
		}
		t.Skip("SKIPPING PHP interop test: php is not installed (apt-get install php-cli)")
	}
	return p
}

func runPHP(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(phpPath(t), append([]string{"testdata/interop.php"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// genValue makes a random value of the protocol's model: Unicode and emoji strings, empty values, big ints,
// floats, lists and ordered maps with int and string keys, nested.
func genValue(r *rand.Rand, depth int) any {
	strs := []string{"", "0", "Анна Петрова", "😀👍🏽🇷🇺 ZWJ 👩‍💻", "a\"b;}\n\x00", "#EMPTY#", "0.5", "12", "-0", "07", "x y"}
	max := 10
	if depth > 3 {
		max = 7
	}
	switch r.IntN(max) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 1
	case 2:
		return []int64{math.MaxInt64, math.MinInt64, 0, -1, r.Int64()}[r.IntN(5)]
	case 3:
		return []float64{0.1, math.Copysign(0, -1), 1e25, 1.5e-7, 3.14159, 1e16, 1e17, 0.30000000000000004, r.Float64() * 1e6, -r.NormFloat64()}[r.IntN(10)]
	case 4, 5, 6:
		return strs[r.IntN(len(strs))]
	case 7:
		n := r.IntN(6)
		l := make([]any, n)
		for i := range l {
			l[i] = genValue(r, depth+1)
		}
		return l
	default:
		m := &Map{}
		for i, n := 0, r.IntN(6); i < n; i++ {
			var k any = int64(r.IntN(60) - 5)
			if r.IntN(3) > 0 {
				k = strs[r.IntN(len(strs))] + strconv.Itoa(r.IntN(10))
			}
			m.Set(k, genValue(r, depth+1))
		}
		return m
	}
}

func TestGoSerializeReadByPHP(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var corpus [][]byte
	for i := 0; i < 600; i++ {
		v := genValue(r, 0)
		for _, stub := range []stubMode{stubNone, stubLegacy, stubCurrent} {
			b, err := appendSerialize(nil, v, stub)
			if err != nil {
				t.Fatal(err)
			}
			corpus = append(corpus, b)
		}
	}
	in := make([]string, len(corpus))
	for i, b := range corpus {
		in[i] = base64.StdEncoding.EncodeToString(b)
	}
	body, _ := json.Marshal(in)
	var out []string
	if err := json.Unmarshal(runPHP(t, body, "echo"), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(corpus) {
		t.Fatalf("php answered %d values for %d", len(out), len(corpus))
	}
	for i, o := range out {
		if o == "ERROR" {
			t.Fatalf("PHP refused Go's %s", corpus[i])
		}
		back, _ := base64.StdEncoding.DecodeString(o)
		if !bytes.Equal(back, corpus[i]) {
			t.Fatalf("PHP read a different value:\n go  %s\n php %s", corpus[i], back)
		}
	}
}

func TestPHPSerializeReadByGo(t *testing.T) {
	t.Parallel()
	var in []string
	if err := json.Unmarshal(runPHP(t, nil, "gen", "800"), &in); err != nil {
		t.Fatal(err)
	}
	for _, s := range in {
		raw, _ := base64.StdEncoding.DecodeString(s)
		v, err := Unserialize(raw)
		if err != nil {
			t.Fatalf("Go refused PHP's %s: %v", raw, err)
		}
		again, err := Serialize(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			t.Fatalf("Go read a different value:\n php %s\n go  %s", raw, again)
		}
	}
}

func TestPHPRefusesWhatGoRefuses(t *testing.T) {
	t.Parallel()
	// The decoder's refusals that PHP shares. PHP also reads objects and ignores trailing bytes; the protocol
	// refuses both on purpose (docs/protocol.md §4), so they are not in this list.
	bad := []string{"i:1", `s:5:"abc";`, "b:2;", `a:1:{i:0;N;`, "x:1;"}
	in := make([]string, len(bad))
	for i, b := range bad {
		if _, err := unserialize(b); err == nil {
			t.Fatalf("Go accepted %q", b)
		}
		in[i] = base64.StdEncoding.EncodeToString([]byte(b))
	}
	body, _ := json.Marshal(in)
	var out []string
	if err := json.Unmarshal(runPHP(t, body, "echo"), &out); err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o != "ERROR" {
			t.Errorf("PHP accepted %q, Go refuses it", bad[i])
		}
	}
}
