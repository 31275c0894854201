package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// The scale section of docs/benchmarks.md: `make bench-scale` replaces it, and `make bench`,
// which rewrites the rest, keeps it.
var scaleSection = docSection{
	begin: "<!-- scale: written by make bench-scale (tests/bench/scale.sh) -->",
	end:   "<!-- /scale -->",
}

// The storm's memory before and after the shared map pieces and bounded send queues, measured
// by hand (storm alone, alternating builds): `make bench` keeps it as it is.
var stormMemorySection = docSection{
	begin: "<!-- storm-memory: measured by hand, kept by make bench -->",
	end:   "<!-- /storm-memory -->",
}

// Several instances on PostgreSQL against one on SQLite: `make bench-multi`
// (tests/bench/multi_report.sh) replaces it, `make bench`'s report keeps it.
var multiSection = docSection{
	begin: "<!-- multi: written by make bench-multi (tests/bench/multi_bench.sh) -->",
	end:   "<!-- /multi -->",
}

// scaleReportCmd writes the scale results into the scale section of --out.
func scaleReportCmd(args []string) error {
	fs := flag.NewFlagSet("scale-report", flag.ContinueOnError)
	out := fs.String("out", "docs/benchmarks.md", "markdown file whose scale section is replaced")
	hsVersion := fs.String("hs-version", "", "hs version string (git describe)")
	gen := fs.String("generator", "", "load generator description (tailscale.com version)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("scale-report: no result files given")
	}
	var all []*result
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r := &result{}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if r.Scale != nil {
			all = append(all, r)
		}
	}
	if len(all) == 0 {
		return errors.New("scale-report: no scale results among the files")
	}
	block := writeScale(all, *hsVersion, *gen)
	return scaleSection.writeInto(*out, block)
}

func writeScale(all []*result, hsVersion, gen string) string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s\n## scale: a tailnet growing to %d nodes\n\n", scaleSection.begin, all[0].Nodes)
	fmt.Fprintf(&w, "Each node registers (32 in flight) and opens its map stream as soon as it is registered, so every registration lands on a tailnet whose earlier nodes are all connected. Then every node must have its full map, all stay connected for a hold period, and what survived is counted. A server that has not registered every node within the run's limit is reported as far as it got. Targets (issue 19): at least 300 registrations/s in every thousand, all nodes connected after the hold, none dropped, RSS at most 300 KiB per node.\n\n")
	fmt.Fprintf(&w, "- date: %s\n- machine: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machineLine())
	fmt.Fprintf(&w, "- load generator: tests/bench/loadgen on %s\n", gen)
	for _, r := range all {
		v := r.Version
		if r.Server == "hs" {
			v = hsVersion
		}
		fmt.Fprintf(&w, "- %s %s: load average (1 min) before %.2f, after %.2f\n", r.Server, v, r.LoadBefore, r.LoadAfter)
	}
	fmt.Fprintf(&w, "\n| |")
	for _, r := range all {
		fmt.Fprintf(&w, " %s |", r.Server)
	}
	fmt.Fprintf(&w, "\n|---|%s\n", strings.Repeat("---:|", len(all)))
	row := func(title string, get func(s *scaleResult) string) {
		fmt.Fprintf(&w, "| %s |", title)
		for _, r := range all {
			fmt.Fprintf(&w, " %s |", get(r.Scale))
		}
		fmt.Fprintln(&w)
	}
	row("nodes registered", func(s *scaleResult) string { return fmt.Sprintf("%d in %.0f s", s.Registered, s.Seconds) })
	row("registrations/s by thousand", func(s *scaleResult) string {
		var p []string
		for _, v := range s.RateByThousand {
			p = append(p, fmt.Sprintf("%.0f", v))
		}
		return strings.Join(p, ", ")
	})
	row("slowest thousand (nodes/s)", func(s *scaleResult) string { return fmt.Sprintf("%.0f", s.minRate()) })
	row("nodes with a full map", func(s *scaleResult) string { return fmt.Sprint(s.NodesWithMap) })
	row("connected after the hold", func(s *scaleResult) string { return fmt.Sprintf("%d (hold %.0f s)", s.Connected, s.HoldSeconds) })
	row("streams dropped", func(s *scaleResult) string { return fmt.Sprint(s.StreamsDropped) })
	row("observers' peer sets complete", func(s *scaleResult) string { return fmt.Sprint(s.PeersOK) })
	row("map messages received (all nodes)", func(s *scaleResult) string { return fmt.Sprint(s.Messages) })
	row("map MB received (all nodes)", func(s *scaleResult) string { return fmt.Sprintf("%.0f", s.MB) })
	row("RSS per node after the hold (KiB)", func(s *scaleResult) string { return optional(s.RSSPerNodeKB, 1) })
	row("peak RSS (MiB)", func(s *scaleResult) string { return optional(s.PeakRSSKB, 1024) })
	row("server CPU-seconds", func(s *scaleResult) string { return optional(s.ServerCPUSeconds, 1) })
	fmt.Fprintln(&w)
	for _, r := range all {
		for _, p := range r.Problems {
			fmt.Fprintf(&w, "- %s: %s\n", r.Server, p)
		}
	}
	fmt.Fprintf(&w, "\n%s", scaleSection.end)
	return w.String()
}
