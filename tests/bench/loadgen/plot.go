package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// plot draws the section's first metric against N for both servers with gnuplot.
func (d *reportData) plot(s section, dir string) error {
	m := s.metrics[0]
	var data bytes.Buffer
	for _, n := range d.ns {
		fmt.Fprintf(&data, "%d", n)
		for _, srv := range d.servers {
			if v, ok := d.value(m, srv, n); ok && v > 0 {
				fmt.Fprintf(&data, " %g", v)
			} else {
				fmt.Fprintf(&data, " NaN")
			}
		}
		fmt.Fprintln(&data)
	}
	tmp, err := os.CreateTemp("", "hs-bench-*.dat")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data.Bytes()); err != nil {
		return err
	}
	tmp.Close()
	png, err := filepath.Abs(filepath.Join(dir, s.name+".png"))
	if err != nil {
		return err
	}
	better := "higher is better"
	if m.lowerBetter {
		better = "lower is better"
	}
	script := fmt.Sprintf(`set terminal pngcairo size 800,480 font ",11"
set output %q
set title "%s: %s (%s)"
set xlabel "nodes (N)"
set ylabel "%s"
set logscale xy
set grid
set key below
set xrange [%g:%g]
set offsets 0, 0, graph 0.1, graph 0.1
set xtics (%s)
plot %q using 1:2 with linespoints lw 2 pt 7 title %q, \
     %q using 1:3 with linespoints lw 2 pt 5 title %q
`, png, s.name, m.title, better, m.unit, float64(d.ns[0])/1.5, float64(d.ns[len(d.ns)-1])*1.5, xtics(d.ns), tmp.Name(), d.servers[0], tmp.Name(), d.servers[1])
	cmd := exec.Command("gnuplot")
	cmd.Stdin = bytes.NewBufferString(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}

func xtics(ns []int) string {
	var b bytes.Buffer
	for i, n := range ns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "\"%d\" %d", n, n)
	}
	return b.String()
}

// writeTargets checks the goals of issue 7 against the numbers of this run.
func (d *reportData) writeTargets(w *bytes.Buffer) {
	a, b := d.servers[0], d.servers[1]
	fmt.Fprintf(w, "## Targets\n\nThe goals set for %s, as ratios to %s in this same run.\n\n", a, b)
	fmt.Fprintf(w, "| target | measured | met |\n|---|---|---|\n")
	byName := map[string]section{}
	for _, s := range sections() {
		byName[s.name] = s
	}
	ratio := func(sec string, mi, n int, want float64, what string) {
		m := byName[sec].metrics[mi]
		x, ok := d.advantage(m, n)
		got := "no number"
		if ok {
			got = fmt.Sprintf("%.1f×", x)
		}
		fmt.Fprintf(w, "| %s at N=%d: at least %.0f× better than %s | %s | %s |\n", what, n, want, b, got, yesNo(ok && x >= want))
	}
	ratio("storm", 0, 2000, 10, "storm time to all maps")
	ratio("storm", 1, 2000, 10, "storm CPU-seconds")
	ratio("churn", 0, 500, 10, "churn p99 latency")
	ratio("memory", 0, maxN(d.ns), 4, "RSS per node")
	jm := byName["join"].metrics[0]
	v, ok := d.value(jm, a, 2000)
	got := "no number"
	if ok {
		got = fmt.Sprintf("%.0f ms", v)
	}
	fmt.Fprintf(w, "| join at N=2000 under 1 s | %s | %s |\n\n", got, yesNo(ok && v < 1000))
}

func maxN(ns []int) int {
	m := 0
	for _, n := range ns {
		m = max(m, n)
	}
	return m
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// writeMethod says what the numbers can and cannot show; tests/bench/README.md has the rest.
func (d *reportData) writeMethod(w *bytes.Buffer) {
	fmt.Fprintf(w, "## Reading these numbers\n\n")
	for _, l := range []string{
		"The machine has 2 cores. The server runs on CPU 0 and the generator on CPU 1 (`BENCH_PIN=1`); other work on the machine shows in the load averages above, and numbers from a loaded machine are noisier and slower for both servers alike.",
		"Counting nodes skip map bytes unread; the sampled observers decode everything. When the generator's CPU in the churn table nears 100%, observers fall behind and latencies include that queueing.",
		"headscale batches changes for `tuning.batch_change_delay` (800 ms by default, used here), a floor under its churn latency; `BENCH_HEADSCALE_BATCH_DELAY` changes it.",
		"hs-control has no policy engine yet; headscale runs an allow-all policy, so both give every node every peer.",
		"Method, scenarios and knobs: tests/bench/README.md. Raw results: bench/results/*.json.",
	} {
		fmt.Fprintf(w, "- %s\n", l)
	}
	fmt.Fprintln(w)
}

func (d *reportData) writeProblems(w *bytes.Buffer) {
	fmt.Fprintf(w, "## Problems the load generator saw\n\n")
	any := false
	for _, r := range d.all {
		for _, p := range r.Problems {
			fmt.Fprintf(w, "- %s, N=%d: %s\n", r.Server, r.Nodes, p)
			any = true
		}
	}
	if !any {
		fmt.Fprintf(w, "None: every node registered, every map arrived, every observer saw the full peer set.\n")
	}
	fmt.Fprintln(w)
}
