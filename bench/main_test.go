package main

import (
	"path/filepath"
	"testing"
)

func TestParseAndEvaluate(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkDecode10Items/doc-2         	   95232	     13501 ns/op	 493.81 MB/s	   39432 B/op	      18 allocs/op
BenchmarkDecode10Items/php-2           	1000000000	      1114 php-MB/s	      6000 php-ns/op	       0 B/op	       0 allocs/op
PASS`)
	rs := parse(out)
	if len(rs) != 2 || rs[0].Name != "BenchmarkDecode10Items/doc" || rs[0].Metrics["ns/op"] != 13501 || rs[1].Metrics["php-ns/op"] != 6000 {
		t.Fatalf("parse = %+v", rs)
	}
	m := map[string]Result{}
	for _, r := range rs {
		m["./wire "+r.Name] = r
	}
	c := Comparison{Pkg: "./wire", Subject: "BenchmarkDecode10Items/doc", Baseline: "BenchmarkDecode10Items/php", SubjectMetric: "ns/op", BaselineMetric: "php-ns/op", GoalRatio: 1}
	c.evaluate(m)
	if c.Ratio < 0.44 || c.Ratio > 0.45 || c.Met == nil || *c.Met || c.MetText() != "no" {
		t.Fatalf("evaluate = %+v", c)
	}
	missing := Comparison{Pkg: "./x", Subject: "A", Baseline: "B"}
	missing.evaluate(m)
	if missing.MetText() != "benchmark did not run" {
		t.Fatalf("missing = %+v", missing)
	}
	rate := Comparison{Pkg: "./wire", Subject: "BenchmarkDecode10Items/doc", Baseline: "BenchmarkDecode10Items/php", SubjectMetric: "MB/s", BaselineMetric: "php-MB/s", GoalRatio: 0.4}
	rate.evaluate(m)
	if rate.Ratio < 0.44 || rate.Ratio > 0.45 || !*rate.Met {
		t.Fatalf("rate ratio = %+v", rate)
	}
}

func TestMedians(t *testing.T) {
	out := []byte(`BenchmarkA/x-2   100   30 ns/op   5 allocs/op
BenchmarkB-2   10   7 ns/op
BenchmarkA/x-2   100   10 ns/op   5 allocs/op
BenchmarkA/x-2   100   20 ns/op   6 allocs/op
BenchmarkB-2   10   9 ns/op
`)
	rs := medians(parse(out))
	if len(rs) != 2 || rs[0].Name != "BenchmarkA/x" || rs[1].Name != "BenchmarkB" {
		t.Fatalf("medians = %+v", rs)
	}
	if rs[0].Metrics["ns/op"] != 20 || rs[0].Metrics["allocs/op"] != 5 { // odd count: the middle run
		t.Errorf("A = %v", rs[0].Metrics)
	}
	if rs[1].Metrics["ns/op"] != 8 { // even count: the mean of the middle two
		t.Errorf("B = %v", rs[1].Metrics)
	}
}

func TestCrossPackageBaseline(t *testing.T) {
	m := map[string]Result{
		"./connector BenchmarkQueue/olctl-sqlite":    {Metrics: map[string]float64{"items/s": 6000}},
		"./bench/queue BenchmarkQueue/goqite-sqlite": {Metrics: map[string]float64{"items/s": 2000}},
	}
	c := Comparison{Pkg: "./connector", BaselinePkg: "./bench/queue", Subject: "BenchmarkQueue/olctl-sqlite",
		Baseline: "BenchmarkQueue/goqite-sqlite", SubjectMetric: "items/s", BaselineMetric: "items/s", GoalRatio: 2}
	c.evaluate(m)
	if c.Ratio != 3 || c.MetText() != "yes" {
		t.Fatalf("evaluate = %+v", c)
	}
	same := Comparison{Pkg: "./connector", Subject: "BenchmarkQueue/olctl-sqlite", Baseline: "BenchmarkQueue/goqite-sqlite",
		SubjectMetric: "items/s", BaselineMetric: "items/s"}
	same.evaluate(m)
	if same.MetText() != "benchmark did not run" {
		t.Fatalf("a baseline of another package found without BaselinePkg: %+v", same)
	}
}

func TestSuiteLocation(t *testing.T) {
	for _, tc := range []struct{ pkg, dir, want string }{
		{"./wire", "..", "./wire"},
		{"./connector/botframework", "..", "./connector/botframework"},
		{"./bench/queue", filepath.Join("..", "bench"), "./queue"},
		{"./benchmarks", "..", "./benchmarks"},
	} {
		dir, pkg := Suite{Pkg: tc.pkg}.location("..")
		if dir != tc.dir || pkg != tc.want {
			t.Errorf("%s: go test %s in %s, want %s in %s", tc.pkg, pkg, dir, tc.want, tc.dir)
		}
	}
}

// TestSuitesExist checks every suite's package and every comparison's packages are benchmarked.
func TestSuitesExist(t *testing.T) {
	pkgs := map[string]bool{}
	for _, s := range suites {
		pkgs[s.Pkg] = true
	}
	for _, c := range comparisons {
		if !pkgs[c.Pkg] || (c.BaselinePkg != "" && !pkgs[c.BaselinePkg]) {
			t.Errorf("%q: no suite runs %s %s", c.Title, c.Pkg, c.BaselinePkg)
		}
	}
	for _, f := range figures {
		if !pkgs[f.Pkg] {
			t.Errorf("%q: no suite runs %s", f.Title, f.Pkg)
		}
	}
}

func TestSelectedRunsBaselines(t *testing.T) {
	run := selected("connector")
	if !run["./connector"] || !run["./bench/queue"] || run["./wire"] || run["./bench/phpcodec"] {
		t.Errorf("selected(connector) = %v", run)
	}
	if all := selected(""); len(all) == 0 || !all["./wire"] || !all["./bench/phpcodec"] {
		t.Errorf("selected() = %v", all)
	}
}
