package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
)

// benchModule is the directory of this module, relative to the repository's root.
const benchModule = "bench"

// Suite is one go test -bench run.
type Suite struct {
	// Pkg is the package, relative to the repository's root: "./wire" (the SDK module) or "./bench/queue"
	// (this module).
	Pkg     string
	Pattern string
	Env     []string
	// Benchtime overrides the run's -benchtime (e.g. "1000x" for a fixed number of messages).
	Benchtime string
	// Count runs the suite this many times in a row; each figure is then the median of its runs.
	// The micro-benchmarks take 5 (on a shared machine one run of a few microseconds moves by 20 %), the HTTP
	// and queue benchmarks 3.
	Count int
}

// location is the directory go test runs in (the root of the package's module) and the package as that
// module names it.
func (s Suite) location(root string) (dir, pkg string) {
	if rest, ok := strings.CutPrefix(s.Pkg, "./"+benchModule+"/"); ok {
		return filepath.Join(root, benchModule), "./" + rest
	}
	return root, s.Pkg
}

// Comparison is one figure: a subject benchmark against a baseline from the same run.
type Comparison struct {
	Title string `json:"title"`
	Pkg   string `json:"package"`
	// BaselinePkg is the baseline's package when it is not Pkg: a baseline that needs a library the SDK
	// does not depend on lives in this module.
	BaselinePkg string `json:"baseline_package,omitempty"`
	Subject     string `json:"subject"`
	Baseline    string `json:"baseline"`
	// Metric is compared: for a time metric (ns/op, php-ns/op) the ratio is baseline/subject (how many times
	// faster), for a rate (MB/s, items/s, …) subject/baseline.
	SubjectMetric  string  `json:"subject_metric"`
	BaselineMetric string  `json:"baseline_metric"`
	Goal           string  `json:"goal"`
	GoalRatio      float64 `json:"goal_ratio"` // the ratio that meets the goal (0: no ratio goal)

	SubjectValue  float64 `json:"subject_value"`
	BaselineValue float64 `json:"baseline_value"`
	Ratio         float64 `json:"ratio"`
	Met           *bool   `json:"met,omitempty"`
	SubjectText   string  `json:"-"`
	BaselineText  string  `json:"-"`
	RatioText     string  `json:"-"`
	Missing       string  `json:"missing,omitempty"`
}

func isTime(metric string) bool {
	return metric == "ns/op" || metric == "php-ns/op" || metric == "ns/item" || metric == "ns/msg" || strings.HasSuffix(metric, "-ms")
}

func (c *Comparison) evaluate(m map[string]Result) {
	bpkg := c.BaselinePkg
	if bpkg == "" {
		bpkg = c.Pkg
	}
	s, okS := m[c.Pkg+" "+c.Subject]
	b, okB := m[bpkg+" "+c.Baseline]
	if !okS || !okB {
		c.Missing = "benchmark did not run"
		c.SubjectText, c.BaselineText, c.RatioText = "—", "—", "—"
		return
	}
	c.SubjectValue = s.Metrics[c.SubjectMetric]
	c.BaselineValue = b.Metrics[c.BaselineMetric]
	if c.SubjectValue == 0 || c.BaselineValue == 0 {
		c.Missing = "metric missing"
		c.SubjectText, c.BaselineText, c.RatioText = "—", "—", "—"
		return
	}
	if isTime(c.SubjectMetric) {
		c.Ratio = c.BaselineValue / c.SubjectValue
	} else {
		c.Ratio = c.SubjectValue / c.BaselineValue
	}
	c.SubjectText = fmt.Sprintf("%s %s", num(c.SubjectValue), c.SubjectMetric)
	if a, ok := s.Metrics["allocs/op"]; ok {
		c.SubjectText += fmt.Sprintf(", %s allocs", num(a))
	}
	c.BaselineText = fmt.Sprintf("%s %s", num(c.BaselineValue), c.BaselineMetric)
	c.RatioText = fmt.Sprintf("%.2f×", c.Ratio)
	if c.GoalRatio > 0 {
		met := c.Ratio >= c.GoalRatio
		c.Met = &met
	}
}

// MetText says whether the goal is met.
func (c *Comparison) MetText() string {
	switch {
	case c.Missing != "":
		return c.Missing
	case c.Met == nil:
		return ""
	case *c.Met:
		return "yes"
	}
	return "no"
}

func num(v float64) string {
	switch {
	case v >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// suites and comparisons: every benchmark of the project that has a same-run baseline.
var suites = []Suite{
	{Pkg: "./wire", Pattern: ".", Count: 5},
	{Pkg: "./bench/phpcodec", Pattern: ".", Count: 5},
	{Pkg: "./emoji", Pattern: "BenchmarkToIcons|BenchmarkLinear", Count: 5},
	{Pkg: "./users", Pattern: "BenchmarkSync"},
	{Pkg: "./files", Pattern: "BenchmarkImport"},
	{Pkg: "./router", Pattern: "BenchmarkInput", Count: 3},
	{Pkg: "./portal", Pattern: "BenchmarkInput", Count: 3},
	{Pkg: "./client", Pattern: "BenchmarkCall|BenchmarkEncodeSign", Count: 5},
	{Pkg: "./connector", Pattern: "BenchmarkQueue$", Count: 3},
	{Pkg: "./bench/queue", Pattern: "BenchmarkQueue$", Count: 3},
	{Pkg: "./connector", Pattern: "BenchmarkMariaDBProcesses", Benchtime: "30000x"},
	{Pkg: "./connector", Pattern: "BenchmarkPostgresProcesses", Benchtime: "30000x"},
	{Pkg: "./connector", Pattern: "BenchmarkQueuedMemory", Benchtime: "1x"},
	{Pkg: "./connector/botframework", Pattern: "."},
	{Pkg: "./e2e", Pattern: "BenchmarkChain", Benchtime: "2000x"},
	{Pkg: "./e2e", Pattern: capacityBench, Benchtime: "1x"},
}

var comparisons = []Comparison{
	{Title: "wire decode into the tree of Go values (Unserialize: []any, *Map)", Pkg: "./wire", Subject: "BenchmarkDecode10Items/tree", Baseline: "BenchmarkDecode10Items/php", SubjectMetric: "ns/op", BaselineMetric: "php-ns/op"},
	{Title: "wire.Unserialize (the tree of Go values) vs elliotchance/phpserialize (which builds Go maps)", Pkg: "./bench/phpcodec", Subject: "BenchmarkDecode10Items/olctl", Baseline: "BenchmarkDecode10Items/elliotchance", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "wire decode into typed items (DecodeItems, []openlines.MessageItem), 10-item receivingMessage", Pkg: "./wire", Subject: "BenchmarkDecodeTyped10Items/olctl", Baseline: "BenchmarkDecode10Items/php", SubjectMetric: "ns/op", BaselineMetric: "php-ns/op", Goal: "≥ 1× PHP 8.2 unserialize", GoalRatio: 1},
	{Title: "wire decode into typed items: DecodeItems vs the tree + Bind", Pkg: "./wire", Subject: "BenchmarkDecodeTyped10Items/olctl", Baseline: "BenchmarkDecodeTyped10Items/tree", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "wire encode, 10-item receivingMessage", Pkg: "./wire", Subject: "BenchmarkEncode10Items/olctl", Baseline: "BenchmarkEncode10Items/php", SubjectMetric: "ns/op", BaselineMetric: "php-ns/op"},
	{Title: "wire.SerializeStubbed vs elliotchance/phpserialize Marshal", Pkg: "./bench/phpcodec", Subject: "BenchmarkEncode10Items/olctl", Baseline: "BenchmarkEncode10Items/elliotchance", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "emoji, 1 KiB with 20 emoji", Pkg: "./emoji", Subject: "BenchmarkToIcons/Emoji20In1K/olctl", Baseline: "BenchmarkToIcons/Emoji20In1K/kyokomi", SubjectMetric: "ns/op", BaselineMetric: "ns/op", Goal: "≥ 5× kyokomi emoji.Sprint", GoalRatio: 5},
	{Title: "emoji, 1 KiB without emoji", Pkg: "./emoji", Subject: "BenchmarkToIcons/NoEmoji1K/olctl", Baseline: "BenchmarkToIcons/NoEmoji1K/kyokomi", SubjectMetric: "ns/op", BaselineMetric: "ns/op", Goal: "0 allocs"},
	{Title: "emoji, 1 MiB of ':' vs 64 KiB (throughput)", Pkg: "./emoji", Subject: "BenchmarkLinear/colons/1024KiB/olctl", Baseline: "BenchmarkLinear/colons/64KiB/olctl", SubjectMetric: "MB/s", BaselineMetric: "MB/s", Goal: "linear: MB/s flat (≥ 0.5×)", GoalRatio: 0.5},
	{Title: "emoji, 1 MiB of '::a' vs 64 KiB (throughput)", Pkg: "./emoji", Subject: "BenchmarkLinear/colon-pairs/1024KiB/olctl", Baseline: "BenchmarkLinear/colon-pairs/64KiB/olctl", SubjectMetric: "MB/s", BaselineMetric: "MB/s", Goal: "linear: MB/s flat (≥ 0.5×)", GoalRatio: 0.5},
	{Title: "emoji, 1 MiB of flag letters vs 64 KiB (throughput)", Pkg: "./emoji", Subject: "BenchmarkLinear/regional/1024KiB/olctl", Baseline: "BenchmarkLinear/regional/64KiB/olctl", SubjectMetric: "MB/s", BaselineMetric: "MB/s", Goal: "linear: MB/s flat (≥ 0.5×)", GoalRatio: 0.5},
	{Title: "emoji, 16 KiB of ':' vs kyokomi", Pkg: "./emoji", Subject: "BenchmarkLinear/colons/16KiB/olctl", Baseline: "BenchmarkLinear/colons/16KiB/kyokomi", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "user sync, cached unchanged user vs a bare map lookup", Pkg: "./users", Subject: "BenchmarkSync/cached-unchanged", Baseline: "BenchmarkSync/baseline-map", SubjectMetric: "syncs/s", BaselineMetric: "syncs/s"},
	{Title: "user sync, changed user, SQLite", Pkg: "./users", Subject: "BenchmarkSync/changed-sqlite", Baseline: "BenchmarkSync/baseline-update-sqlite", SubjectMetric: "syncs/s", BaselineMetric: "syncs/s"},
	{Title: "user sync, changed user, MariaDB", Pkg: "./users", Subject: "BenchmarkSync/changed-mariadb", Baseline: "BenchmarkSync/baseline-update-mariadb", SubjectMetric: "syncs/s", BaselineMetric: "syncs/s"},
	{Title: "user sync, changed user, PostgreSQL", Pkg: "./users", Subject: "BenchmarkSync/changed-postgres", Baseline: "BenchmarkSync/baseline-update-postgres", SubjectMetric: "syncs/s", BaselineMetric: "syncs/s"},
	{Title: "file import, 1 000 small files (memory store)", Pkg: "./files", Subject: "BenchmarkImport/1000-small-files-memory", Baseline: "BenchmarkImport/baseline-http-get", SubjectMetric: "files/s", BaselineMetric: "files/s"},
	{Title: "file import, 1 000 small files (disk store, fsync, SQLite)", Pkg: "./files", Subject: "BenchmarkImport/1000-small-files", Baseline: "BenchmarkImport/baseline-http-get", SubjectMetric: "files/s", BaselineMetric: "files/s"},
	{Title: "router, verified 10-item packets over HTTP", Pkg: "./router", Subject: "BenchmarkInput/olctl", Baseline: "BenchmarkInput/bare", SubjectMetric: "packets/s", BaselineMetric: "packets/s", Goal: "≥ 50 % of a bare net/http handler", GoalRatio: 0.5},
	{Title: "client, encode + sign + decode vs a whole signed round trip (loopback)", Pkg: "./client", Subject: "BenchmarkEncodeSign/olctl", Baseline: "BenchmarkCall/olctl", SubjectMetric: "ns/op", BaselineMetric: "ns/op", Goal: "client overhead < 15 % of a round trip (round trip ≥ 6.7× it)", GoalRatio: 1 / 0.15},
	{Title: "client, whole signed Call (request, encode, sign, read) vs a bare POST of the same body and headers", Pkg: "./client", Subject: "BenchmarkCall/olctl", Baseline: "BenchmarkCall/baseline", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "queue, webhook → confirmed delivery, SQLite", Pkg: "./connector", BaselinePkg: "./bench/queue", Subject: "BenchmarkQueue/olctl-sqlite", Baseline: "BenchmarkQueue/goqite-sqlite", SubjectMetric: "items/s", BaselineMetric: "items/s", Goal: "≥ 2× goqite send → receive → delete", GoalRatio: 2},
	{Title: "queue, webhook bursts of 50 → confirmed delivery, SQLite", Pkg: "./connector", BaselinePkg: "./bench/queue", Subject: "BenchmarkQueue/olctl-sqlite-burst50", Baseline: "BenchmarkQueue/goqite-sqlite", SubjectMetric: "items/s", BaselineMetric: "items/s", Goal: "≥ 2× goqite", GoalRatio: 2},
	{Title: "queue, webhook → confirmed delivery, MariaDB (baseline: goqite on SQLite)", Pkg: "./connector", BaselinePkg: "./bench/queue", Subject: "BenchmarkQueue/olctl-mariadb", Baseline: "BenchmarkQueue/goqite-sqlite", SubjectMetric: "items/s", BaselineMetric: "items/s"},
	{Title: "queue, webhook → confirmed delivery, PostgreSQL (baseline: goqite on SQLite)", Pkg: "./connector", BaselinePkg: "./bench/queue", Subject: "BenchmarkQueue/olctl-postgres", Baseline: "BenchmarkQueue/goqite-sqlite", SubjectMetric: "items/s", BaselineMetric: "items/s"},
	{Title: "queue, 3 server processes on one MariaDB vs 1", Pkg: "./connector", Subject: "BenchmarkMariaDBProcesses/3", Baseline: "BenchmarkMariaDBProcesses/1", SubjectMetric: "items/s", BaselineMetric: "items/s", Goal: "above one process's rate (> 1×)", GoalRatio: 1},
	{Title: "queue, 3 server processes on one PostgreSQL vs 1", Pkg: "./connector", Subject: "BenchmarkPostgresProcesses/3", Baseline: "BenchmarkPostgresProcesses/1", SubjectMetric: "items/s", BaselineMetric: "items/s", Goal: "above one process's rate (> 1×)", GoalRatio: 1},
	{Title: "Bot Framework activity → items", Pkg: "./connector/botframework", Subject: "BenchmarkReceive/olctl", Baseline: "BenchmarkReceive/baseline", SubjectMetric: "ns/op", BaselineMetric: "ns/op"},
	{Title: "end to end at 200 msgs/s offered: rate", Pkg: "./e2e", Subject: "BenchmarkChain/olctl", Baseline: "BenchmarkChain/bare", SubjectMetric: "msgs/s", BaselineMetric: "msgs/s", Goal: "keeps up with the offered rate (≈ 1×)"},
	{Title: "end to end at 200 msgs/s offered: p50 latency", Pkg: "./e2e", Subject: "BenchmarkChain/olctl", Baseline: "BenchmarkChain/bare", SubjectMetric: "p50-ms", BaselineMetric: "p50-ms"},
	{Title: "end to end at 200 msgs/s offered: p99 latency", Pkg: "./e2e", Subject: "BenchmarkChain/olctl", Baseline: "BenchmarkChain/bare", SubjectMetric: "p99-ms", BaselineMetric: "p99-ms"},
	{Title: "portal, receivingMessage pipeline over HTTP", Pkg: "./portal", Subject: "BenchmarkInput/olctl", Baseline: "BenchmarkInput/bare", SubjectMetric: "packets/s", BaselineMetric: "packets/s", Goal: "≥ 50 % of a bare net/http handler", GoalRatio: 0.5},
}

// Figure is a resource measurement with no same-run baseline (peak memory), printed apart from the ratios
// with its goal.
type Figure struct {
	Title  string  `json:"title"`
	Pkg    string  `json:"package"`
	Bench  string  `json:"benchmark"`
	Metric string  `json:"metric"`
	Goal   string  `json:"goal,omitempty"`
	Max    float64 `json:"max,omitempty"` // the goal: at most this much (0: none)
	Min    float64 `json:"min,omitempty"` // the goal: at least this much (0: none)
	Value  float64 `json:"value"`
	Met    *bool   `json:"met,omitempty"`
	Found  bool    `json:"found"`
}

func (f *Figure) evaluate(m map[string]Result) {
	r, ok := m[f.Pkg+" "+f.Bench]
	if !ok {
		return
	}
	f.Value, f.Found = r.Metrics[f.Metric]
	if f.Found && (f.Max > 0 || f.Min > 0) {
		met := (f.Max == 0 || f.Value <= f.Max) && f.Value >= f.Min
		f.Met = &met
	}
}

// Text is the figure as printed.
func (f *Figure) Text() (value, met string) {
	if !f.Found {
		return "—", "benchmark did not run"
	}
	value = num(f.Value) + " " + f.Metric
	switch {
	case f.Met == nil:
	case *f.Met:
		met = "yes"
	default:
		met = "no"
	}
	return value, met
}

var figures = []Figure{
	{Title: "user sync, cached unchanged user", Pkg: "./users", Bench: "BenchmarkSync/cached-unchanged", Metric: "syncs/s", Goal: "> 1 000 000/s", Min: 1e6},
	{Title: "user sync, cached unchanged user: database calls", Pkg: "./users", Bench: "BenchmarkSync/cached-unchanged", Metric: "db-calls/op", Goal: "0"},
	{Title: "connector server with 1 000 000 queued items: RSS", Pkg: "./connector", Bench: "BenchmarkQueuedMemory/1M", Metric: "rss-MiB", Goal: "< 150 MiB", Max: 150},
	{Title: "connector server with an empty queue: RSS", Pkg: "./connector", Bench: "BenchmarkQueuedMemory/empty", Metric: "rss-MiB"},
	{Title: "end to end: peak RSS of the connector server process", Pkg: "./e2e", Bench: "BenchmarkChain/olctl", Metric: "connector-rss-MiB"},
	{Title: "end to end: peak RSS of the portal process", Pkg: "./e2e", Bench: "BenchmarkChain/olctl", Metric: "portal-rss-MiB"},
}
