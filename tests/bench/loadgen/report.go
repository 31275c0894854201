package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// metric is one number of one scenario, read out of a result.
type metric struct {
	title, unit string
	lowerBetter bool
	get         func(*result) (float64, bool)
}

// section is one table of docs/benchmarks.md, and one plot of its first metric.
type section struct {
	name, about string
	metrics     []metric
}

func sections() []section {
	return []section{
		{"register", "N fresh nodes register with one reusable pre-auth key, 32 at a time (Noise handshake + /machine/register).",
			[]metric{
				{"nodes/s", "nodes/s", false, func(r *result) (float64, bool) {
					return f(r.Register != nil && r.Register.OK == r.Nodes, r.Register, func() float64 { return r.Register.NodesPerSecond })
				}},
				{"p99 latency", "ms", true, func(r *result) (float64, bool) {
					return f(r.Register != nil && r.Register.OK == r.Nodes, r.Register, func() float64 { return r.Register.P99ms })
				}},
			}},
		{"storm", "N nodes streaming; the server is restarted; time from the new process's start until every node has its full map again, the new process's CPU-seconds until then, and its peak RSS.",
			[]metric{
				{"time to all maps", "s", true, func(r *result) (float64, bool) {
					return f(stormOK(r), r.Storm, func() float64 { return r.Storm.Seconds })
				}},
				{"CPU-seconds", "s", true, func(r *result) (float64, bool) {
					return f(stormOK(r), r.Storm, func() float64 { return r.Storm.CPUSeconds })
				}},
				{"peak RSS", "MiB", true, func(r *result) (float64, bool) {
					return f(stormOK(r), r.Storm, func() float64 { return float64(r.Storm.PeakRSSKB) / 1024 })
				}},
				{"median node back", "s", true, func(r *result) (float64, bool) {
					return f(stormOK(r) && r.Storm.P50Seconds > 0, r.Storm, func() float64 { return r.Storm.P50Seconds })
				}},
			}},
		{"churn", "N nodes online; nodes in turn send endpoint changes (lite map requests) at a fixed rate for a fixed time. Latency runs from an update's send to its arrival at each sampled observer, over the deliveries that arrived (\"delivered\" says how many did within the grace period); then server CPU, the map bytes the server sent all nodes per second, and the generator's CPU on its one core (near 100% means the latencies include the generator's own queueing).",
			[]metric{
				{"p99 latency", "ms", true, func(r *result) (float64, bool) {
					return f(churnOK(r), r.Churn, func() float64 { return r.Churn.P99ms })
				}},
				{"p50 latency", "ms", true, func(r *result) (float64, bool) {
					return f(churnOK(r), r.Churn, func() float64 { return r.Churn.P50ms })
				}},
				{"delivered", "%", false, func(r *result) (float64, bool) {
					return f(churnOK(r), r.Churn, func() float64 { return 100 * float64(r.Churn.Delivered) / float64(max(r.Churn.Expected, 1)) })
				}},
				{"server CPU", "%", true, func(r *result) (float64, bool) {
					return f(churnOK(r) && r.Churn.ServerCPUPercent != nil, r.Churn, func() float64 { return *r.Churn.ServerCPUPercent })
				}},
				{"sent to nodes", "MB/s", true, func(r *result) (float64, bool) {
					return f(churnOK(r), r.Churn, func() float64 { return r.Churn.ReceivedMBps })
				}},
				{"generator CPU", "%", true, func(r *result) (float64, bool) {
					return f(churnOK(r), r.Churn, func() float64 { return r.Churn.GeneratorCPUPercent })
				}},
			}},
		{"join", "N nodes online; one more node registers and streams; time from the start of its registration to its first full map (median of the joins).",
			[]metric{
				{"join time", "ms", true, func(r *result) (float64, bool) {
					return f(r.Join != nil && r.Join.Joins > 0, r.Join, func() float64 { return r.Join.P50ms })
				}},
			}},
		{"memory", "Server RSS after all N nodes connected and settled, divided by N; and the cold connect: time until all N freshly registered nodes have their first map.",
			[]metric{
				{"RSS per node", "KiB", true, func(r *result) (float64, bool) {
					return f(r.Connect != nil && r.Connect.RSSPerNodeKB != nil, r.Connect, func() float64 { return *r.Connect.RSSPerNodeKB })
				}},
				{"cold connect", "s", true, func(r *result) (float64, bool) {
					return f(connectOK(r), r.Connect, func() float64 { return r.Connect.Seconds })
				}},
			}},
	}
}

// f returns get() when ok; a nil part of the result or a failed phase gives no number.
func f[T any](ok bool, part *T, get func() float64) (float64, bool) {
	if !ok || part == nil {
		return 0, false
	}
	return get(), true
}

// stormOK: every node the storm waited for had its map back (older results lack Expected;
// a joined node whose first map never came is still among them, hence at least).
func stormOK(r *result) bool {
	if r.Storm == nil {
		return false
	}
	if r.Storm.Expected > 0 {
		return r.Storm.NodesWithMap == r.Storm.Expected
	}
	return r.Storm.NodesWithMap >= r.Nodes+joined(r)
}
func churnOK(r *result) bool   { return r.Churn != nil && r.Churn.Delivered > 0 }
func connectOK(r *result) bool { return r.Connect != nil && r.Connect.NodesWithMap == r.Nodes }
func joined(r *result) int {
	if r.Join == nil {
		return 0
	}
	return r.Join.Joins
}

type reportData struct {
	ns      []int
	servers []string // hs first, the reference second
	by      map[string]map[int]*result
	all     []*result
}

func loadResults(paths []string) (*reportData, error) {
	d := &reportData{by: map[string]map[int]*result{}}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if r.Company != nil {
			continue // the policy scenario's, reported by policy-report
		}
		if d.by[r.Server] == nil {
			d.by[r.Server] = map[int]*result{}
			d.servers = append(d.servers, r.Server)
		}
		d.by[r.Server][r.Nodes] = &r
		d.all = append(d.all, &r)
		if !slices.Contains(d.ns, r.Nodes) {
			d.ns = append(d.ns, r.Nodes)
		}
	}
	slices.Sort(d.ns)
	if len(d.servers) != 2 {
		return nil, fmt.Errorf("want results of exactly two servers, got %v", d.servers)
	}
	if d.servers[0] != "hs" && d.servers[1] == "hs" {
		d.servers[0], d.servers[1] = d.servers[1], d.servers[0]
	}
	return d, nil
}

// value is a metric of server s at n; ok=false when that run has no number for it.
func (d *reportData) value(m metric, s string, n int) (float64, bool) {
	r := d.by[s][n]
	if r == nil {
		return 0, false
	}
	return m.get(r)
}

// advantage is how many times better the first server is than the second (>1 = better).
func (d *reportData) advantage(m metric, n int) (float64, bool) {
	a, ok1 := d.value(m, d.servers[0], n)
	b, ok2 := d.value(m, d.servers[1], n)
	if !ok1 || !ok2 || a <= 0 || b <= 0 {
		return 0, false
	}
	if m.lowerBetter {
		return b / a, true
	}
	return a / b, true
}

func num(v float64, ok bool) string {
	switch {
	case !ok:
		return "—"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	out := fs.String("out", "docs/benchmarks.md", "markdown file to write")
	plots := fs.String("plots", "docs/bench", "directory for the PNG plots")
	notes := fs.String("notes", "", "markdown file appended as the closing note")
	hsVersion := fs.String("hs-version", "", "hs version string (git describe)")
	gen := fs.String("generator", "", "load generator description (tailscale.com version)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("report: no result files given")
	}
	d, err := loadResults(fs.Args())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*plots, 0o755); err != nil {
		return err
	}
	var w bytes.Buffer
	d.writeHeader(&w, *hsVersion, *gen)
	rel, _ := filepath.Rel(filepath.Dir(*out), *plots)
	for _, s := range sections() {
		d.writeSection(&w, s, rel)
		if err := d.plot(s, *plots); err != nil {
			logf("report: plot %s: %v", s.name, err)
			fmt.Fprintf(&w, "(plot not drawn: %v)\n\n", err)
		}
	}
	d.writeTargets(&w)
	d.writeProblems(&w)
	d.writeMethod(&w)
	if *notes != "" {
		b, err := os.ReadFile(*notes)
		if err != nil {
			return err
		}
		w.Write(b)
	}
	if old, err := os.ReadFile(*out); err == nil {
		if block := scaleSection.in(string(old)); block != "" {
			fmt.Fprintf(&w, "\n%s\n", block)
		}
		if block := policySection.in(string(old)); block != "" {
			fmt.Fprintf(&w, "\n%s\n", block)
		}
		if block := stormMemorySection.in(string(old)); block != "" {
			fmt.Fprintf(&w, "\n%s\n", block)
		}
		if block := multiSection.in(string(old)); block != "" {
			fmt.Fprintf(&w, "\n%s\n", block)
		}
	}
	return os.WriteFile(*out, w.Bytes(), 0o644)
}

func machineLine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d cores%s, Linux %s", model, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)))
}

func (d *reportData) writeHeader(w *bytes.Buffer, hsVersion, gen string) {
	a, b := d.servers[0], d.servers[1]
	ref := d.all[0]
	for _, r := range d.all {
		if r.Server == b {
			ref = r
		}
	}
	fmt.Fprintf(w, "# Benchmarks: %s against %s\n\n", a, b)
	fmt.Fprintf(w, "Written by `make bench` (tests/bench/run.sh); do not edit by hand. ")
	fmt.Fprintf(w, "Each server ran alone, one after the other, on the same machine with the same load generator and the same DERP map.\n\n")
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %s\n", machineLine())
	fmt.Fprintf(w, "- %s: %s; %s: %s\n", a, hsVersion, b, ref.Version)
	fmt.Fprintf(w, "- load generator: tests/bench/loadgen on %s, capability version %d; %d observers decode every frame, the other nodes only count and time them\n", gen, ref.Capver, ref.Observers)
	fmt.Fprintf(w, "- load average (1 min) before each run: ")
	var parts []string
	for _, r := range d.all {
		parts = append(parts, fmt.Sprintf("%s N=%d: %.2f", r.Server, r.Nodes, r.LoadBefore))
	}
	fmt.Fprintf(w, "%s\n\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "\"×\" columns say how many times better %s is than %s (higher is better for %s; below 1 means worse).\n\n", a, b, a)
}

func (d *reportData) writeSection(w *bytes.Buffer, s section, plotDir string) {
	a, b := d.servers[0], d.servers[1]
	fmt.Fprintf(w, "## %s\n\n%s\n\n", s.name, s.about)
	fmt.Fprintf(w, "| N |")
	for _, m := range s.metrics {
		fmt.Fprintf(w, " %s %s (%s) | %s %s | × |", a, m.title, m.unit, b, m.title)
	}
	fmt.Fprintf(w, "\n|---|")
	for range s.metrics {
		fmt.Fprintf(w, "---:|---:|---:|")
	}
	fmt.Fprintln(w)
	for _, n := range d.ns {
		fmt.Fprintf(w, "| %d |", n)
		for _, m := range s.metrics {
			va, oka := d.value(m, a, n)
			vb, okb := d.value(m, b, n)
			x, okx := d.advantage(m, n)
			fmt.Fprintf(w, " %s | %s | %s |", num(va, oka), num(vb, okb), num(x, okx))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n![%s](%s/%s.png)\n\n", s.name, plotDir, s.name)
}
