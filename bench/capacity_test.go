package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func capacityFixture() []Result {
	return parse([]byte(`BenchmarkCapacity/sqlite/1000-2   1   5000000000 ns/op   1000 delivered/s   4.2 p99-ms   0 undelivered   0.5 conn-cpu-s/1k
BenchmarkCapacity/sqlite/2000-2   1   5000000000 ns/op   1990 delivered/s   41 p99-ms   0 undelivered   0.4 conn-cpu-s/1k
BenchmarkCapacity/mariadb-20ms-1/2000-2   1   5 ns/op   900 delivered/s   800 p99-ms   99.4 machine-cpu-%   0.81 rest-cpu-s/1k
BenchmarkCapacity/mariadb-20ms-3/2000-2   1   5 ns/op   1700 delivered/s   300 p99-ms   98.5 machine-cpu-%   0.94 rest-cpu-s/1k
BenchmarkChain/olctl-2   2000   1 ns/op   200 msgs/s
`))
}

func TestCapacityPoints(t *testing.T) {
	ps := capacityPoints(capacityFixture())
	if len(ps) != 4 || ps[0].Chain != "sqlite" || ps[0].Offered != 1000 || ps[1].Metrics["delivered/s"] != 1990 || ps[3].Chain != "mariadb-20ms-3" {
		t.Fatalf("points %+v", ps)
	}
	if got := chains(ps); strings.Join(got, ",") != "sqlite,mariadb-20ms-1,mariadb-20ms-3" {
		t.Fatalf("chains %v", got)
	}
	goals := capacityGoals(ps, 2)
	if len(goals) != 2 || goals[0][1] != "yes" || goals[1][1] != "no" || !strings.Contains(goals[1][0], "1.89×") {
		t.Fatalf("goals %q", goals)
	}
	ps[1].Metrics["p99-ms"] = 50
	if g := capacityGoals(ps, 2); g[0][1] != "no" {
		t.Fatalf("p99 of 50 ms met the goal: %q", g)
	}
}

func TestCapacityReport(t *testing.T) {
	env := Env{Cores: 2, GoVersion: "go1.26.8"}
	ps := capacityPoints(capacityFixture())
	md := capacityMarkdown(env, ps, "BENCHMARKS-capacity.svg")
	for _, want := range []string{"![delivered rate and p99 latency against the offered rate](BENCHMARKS-capacity.svg)",
		"| sqlite | 2000 |", "2 cores", "go1.26.8", "| goal | met |", "| rest | machine CPU % |",
		"| 0.000 | 0.810 | 99.4 |", // mariadb-20ms-1: portal CPU, rest, machine
		"| 0.000 | – | – |",        // sqlite: no machine figures in the run
		"the machine's cores were 99 % and 98 % busy at these points",
		"2× one process (1800/s) would take 1.5 cores at the CPU the machine spent per message, of 2"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	svg := capacitySVG(env, ps)
	d := xml.NewDecoder(strings.NewReader(svg))
	lines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 2*3 { // a delivered and a p99 line per chain
		t.Fatalf("%d polylines, want 6", lines)
	}
}
