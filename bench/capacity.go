package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The capacity benchmark (e2e BenchmarkCapacity) offers messages at fixed rates to whole chains of processes;
// its points are reported as a table and a plot of their own, not as ratios.

// capacityBench is the name of the capacity benchmark; its results are "<capacityBench>/<chain>/<offered>".
const capacityBench = "BenchmarkCapacity"

// CapacityPoint is one offered rate of one chain.
type CapacityPoint struct {
	Chain   string             `json:"chain"`
	Offered int                `json:"offered"`
	Metrics map[string]float64 `json:"metrics"`
}

// capacityPoints picks the capacity results out of rs, in the order they ran.
func capacityPoints(rs []Result) []CapacityPoint {
	var ps []CapacityPoint
	for _, r := range rs {
		rest, ok := strings.CutPrefix(r.Name, capacityBench+"/")
		if !ok {
			continue
		}
		chain, rate, ok := strings.Cut(rest, "/")
		offered, err := strconv.Atoi(rate)
		if !ok || err != nil {
			continue
		}
		ps = append(ps, CapacityPoint{Chain: chain, Offered: offered, Metrics: r.Metrics})
	}
	return ps
}

// chains returns the chains of ps in the order they first appear.
func chains(ps []CapacityPoint) []string {
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.Chain) {
			out = append(out, p.Chain)
		}
	}
	return out
}

// capacityGoals are the goals, judged on the points: each is a sentence and yes/no (or a dash when
// its points did not run).
func capacityGoals(ps []CapacityPoint, cores int) [][2]string {
	find := func(chain string, offered int) (CapacityPoint, bool) {
		for _, p := range ps {
			if p.Chain == chain && p.Offered == offered {
				return p, true
			}
		}
		return CapacityPoint{}, false
	}
	best := func(chain string) float64 {
		var v float64
		for _, p := range ps {
			if p.Chain == chain {
				v = max(v, p.Metrics["delivered/s"])
			}
		}
		return v
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	var goals [][2]string
	if p, ok := find("sqlite", 2000); ok {
		d, p99 := p.Metrics["delivered/s"], p.Metrics["p99-ms"]
		goals = append(goals, [2]string{fmt.Sprintf("SQLite, one of each process: 2 000 messages/s delivered at p99 < 50 ms — %s/s delivered, p99 %s ms",
			num(d), num(p99)), yes(d >= 1980 && p.Metrics["undelivered"] == 0 && p99 < 50)})
	}
	for _, db := range []string{"mariadb", "postgres"} {
		one, three := best(db+"-20ms-1"), best(db+"-20ms-3")
		if one == 0 || three == 0 {
			continue
		}
		goals = append(goals, [2]string{fmt.Sprintf("%s, portal 20 ms per packet: three connector processes deliver at least 2× one — best %s/s against %s/s (%.2f×)%s",
			dbTitle(db), num(three), num(one), three/one, machineNote(bestPoint(ps, db+"-20ms-1"), bestPoint(ps, db+"-20ms-3"), cores)), yes(three >= 2*one)})
	}
	return goals
}

// bestPoint is the point of chain that delivered the most.
func bestPoint(ps []CapacityPoint, chain string) CapacityPoint {
	var best CapacityPoint
	for _, p := range ps {
		if p.Chain == chain && p.Metrics["delivered/s"] > best.Metrics["delivered/s"] {
			best = p
		}
	}
	return best
}

// machineNote says how busy the machine was at the best points of one and of three processes, when the
// run measured it (a machine whose cores were all busy bounds both), and how many cores twice one
// process's rate would take at the CPU the whole machine spent per message at its best point (load
// generator, connector, portal and the rest): more than the machine has, and no number of connector
// processes can show 2×.
func machineNote(one, three CapacityPoint, cores int) string {
	a, okA := one.Metrics["machine-cpu-%"]
	b, okB := three.Metrics["machine-cpu-%"]
	if !okA || !okB {
		return ""
	}
	note := fmt.Sprintf("; the machine's cores were %.0f %% and %.0f %% busy at these points", a, b)
	var perK float64 // CPU seconds per 1 000 messages, the whole machine
	for _, m := range []string{"gen-cpu-s/1k", "conn-cpu-s/1k", "portal-cpu-s/1k", "rest-cpu-s/1k"} {
		perK += one.Metrics[m]
	}
	if perK > 0 && cores > 0 {
		note += fmt.Sprintf("; 2× one process (%s/s) would take %.1f cores at the CPU the machine spent per message, of %d",
			num(2*one.Metrics["delivered/s"]), 2*one.Metrics["delivered/s"]*perK/1000, cores)
	}
	return note
}

func dbTitle(db string) string {
	switch db {
	case "mariadb":
		return "MariaDB"
	case "postgres":
		return "PostgreSQL"
	}
	return "SQLite"
}

// capacityMarkdown is the capacity section of BENCHMARKS.md; svg is the plot's file name beside it.
func capacityMarkdown(env Env, ps []CapacityPoint, svg string) string {
	var b strings.Builder
	b.WriteString("\n## Capacity: the whole chain\n\n")
	fmt.Fprintf(&b, "Customer messages offered at fixed rates, each for a few seconds, through the whole chain: the fake Bot Framework "+
		"(the load generator, which also reads the portal's events) → connector server(s) → portal, each its own process, "+
		"%d cores for all of them, %s. Messages go to 12 open lines, each its own bot. *sent* is the rate the generator "+
		"achieved, *delivered* the messages per second from the first webhook to the last portal event, the latencies are "+
		"from the webhook's start to the portal's event; *late* counts messages that had not arrived 10 s after the last was "+
		"sent; CPU is seconds per 1 000 delivered messages (all connector processes together; *rest* is the database "+
		"servers, the kernel and anything else that ran on the machine meanwhile), *machine CPU* the share of all "+
		"cores that were busy during the point (at 100 %% a chain is bound by the machine, not by itself), RSS the "+
		"peak of the point. "+
		"A chain stops at the first rate it delivers less than half of. The connector servers use the database named; "+
		"the portal stores on SQLite. \"20ms\": the portal takes 20 ms over every packet, like a portal across a network, "+
		"with 1, 2 or 3 connector processes.\n\n", env.Cores, env.GoVersion)
	fmt.Fprintf(&b, "![delivered rate and p99 latency against the offered rate](%s)\n\n", svg)
	b.WriteString("| chain | offered/s | sent/s | delivered/s | p50 ms | p99 ms | max ms | late | CPU s/1k: generator | connector | portal | rest | machine CPU % | peak RSS MiB: generator | connector | portal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range ps {
		m := p.Metrics
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Chain, p.Offered,
			num(m["sent/s"]), num(m["delivered/s"]), num(m["p50-ms"]), num(m["p99-ms"]), num(m["max-ms"]), num(m["undelivered"]),
			cpu(m["gen-cpu-s/1k"]), cpu(m["conn-cpu-s/1k"]), cpu(m["portal-cpu-s/1k"]), optional(m, "rest-cpu-s/1k", cpu),
			optional(m, "machine-cpu-%", num), num(m["gen-rss-MiB"]), num(m["conn-rss-MiB"]), num(m["portal-rss-MiB"]))
	}
	if goals := capacityGoals(ps, env.Cores); len(goals) > 0 {
		b.WriteString("\n| goal | met |\n|---|---|\n")
		for _, g := range goals {
			fmt.Fprintf(&b, "| %s | %s |\n", g[0], g[1])
		}
	}
	return b.String()
}

func cpu(v float64) string { return fmt.Sprintf("%.3f", v) }

// optional formats the metric key of m, or a dash when the run did not report it (no /proc/stat).
func optional(m map[string]float64, key string, f func(float64) string) string {
	v, ok := m[key]
	if !ok {
		return "–"
	}
	return f(v)
}

// Plot geometry: two panels side by side, a legend under them.
const (
	plotW, plotH    = 1000, 520
	panelW, panelH  = 400, 330
	panelTop        = 50
	leftX, rightX   = 80, 570
	minRate         = 200.0
	maxRate         = 5000.0
	minMS, maxMS    = 0.5, 100000.0
	legendTop       = panelTop + panelH + 60
	legendColumnW   = 190
	legendPerColumn = 2
)

// palette colours the chains (one per chain of the benchmark; repeated beyond).
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"}

// capacitySVG draws the delivered rate (left) and the p99 latency (right) against the offered rate, both on
// logarithmic axes, one line per chain.
func capacitySVG(env Env, ps []CapacityPoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">olctl capacity: bftest → connector → portal, %d cores, %s</text>`+"\n",
		leftX, env.Cores, esc(env.GoVersion))
	rateX := func(x0 float64) func(float64) float64 {
		return func(v float64) float64 { return x0 + logPos(v, minRate, maxRate)*panelW }
	}
	lx, rx := rateX(leftX), rateX(rightX)
	rateY := func(v float64) float64 { return panelTop + panelH - logPos(v, minRate, maxRate)*panelH }
	msY := func(v float64) float64 { return panelTop + panelH - logPos(v, minMS, maxMS)*panelH }
	rates := []float64{250, 500, 1000, 2000, 4000}
	axes(&b, leftX, "offered messages/s", "delivered messages/s", lx, rateY, rates, rates, func(v float64) string { return num(v) })
	axes(&b, rightX, "offered messages/s", "p99 latency, ms", rx, msY, rates, []float64{1, 10, 100, 1000, 10000, 100000}, func(v float64) string { return num(v) })
	// Delivering all that is offered: the diagonal.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#bbb" stroke-dasharray="4 3"/>`+"\n",
		lx(minRate), rateY(minRate), lx(maxRate), rateY(maxRate))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#bbb" stroke-dasharray="4 3"/>`+"\n",
		rx(minRate), msY(50), rx(maxRate), msY(50))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#888">50 ms</text>`+"\n", rx(minRate)+4, msY(50)-4)
	for i, chain := range chains(ps) {
		color := palette[i%len(palette)]
		var left, right []string
		for _, p := range ps {
			if p.Chain != chain {
				continue
			}
			o := float64(p.Offered)
			if d := p.Metrics["delivered/s"]; d > 0 {
				left = append(left, fmt.Sprintf("%.1f,%.1f", lx(o), rateY(clamp(d, minRate, maxRate))))
			}
			if l := p.Metrics["p99-ms"]; l > 0 {
				right = append(right, fmt.Sprintf("%.1f,%.1f", rx(o), msY(clamp(l, minMS, maxMS))))
			}
		}
		for _, pts := range [][]string{left, right} {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
			for _, pt := range pts {
				x, y, _ := strings.Cut(pt, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", x, y, color)
			}
		}
		col, row := i/legendPerColumn, i%legendPerColumn
		x, y := leftX+col*legendColumnW, legendTop+row*20
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x, y-4, x+24, y-4, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+30, y, esc(chain))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// axes draws a panel's frame, grid and labels; x and y place values.
func axes(b *strings.Builder, x0 float64, xlabel, ylabel string, x, y func(float64) float64, xticks, yticks []float64, label func(float64) string) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", x0, panelTop, panelW, panelH)
	for _, v := range xticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", x(v), panelTop, x(v), panelTop+panelH)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), panelTop+panelH+16, label(v))
	}
	for _, v := range yticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x0, y(v), x0+panelW, y(v))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y(v)+4, label(v))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x0+panelW/2, panelTop+panelH+36, esc(xlabel))
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" transform="rotate(-90 %.1f %d)">%s</text>`+"\n",
		x0-52, panelTop+panelH/2, x0-52, panelTop+panelH/2, esc(ylabel))
}

// logPos is where v sits between lo and hi on a logarithmic axis, from 0 to 1.
func logPos(v, lo, hi float64) float64 {
	return (math.Log(clamp(v, lo, hi)) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
