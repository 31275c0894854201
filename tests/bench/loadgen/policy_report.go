package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The policy section of docs/benchmarks.md: `make bench-policy` replaces it; `make bench`
// (report) and `make bench-scale` keep it.
var policySection = docSection{
	begin: "<!-- policy: written by make bench-policy (tests/bench/policy.sh) -->",
	end:   "<!-- /policy -->",
}

// policyReportCmd writes the policy results into the policy section of --out.
func policyReportCmd(args []string) error {
	fs := flag.NewFlagSet("policy-report", flag.ContinueOnError)
	out := fs.String("out", "docs/benchmarks.md", "markdown file whose policy section is replaced")
	hsVersion := fs.String("hs-version", "", "hs version string (git describe)")
	gen := fs.String("generator", "", "load generator description (tailscale.com version)")
	engine := fs.String("engine", "", "hs-policy-bench --company output")
	notes := fs.String("notes", "", "markdown file appended to the section (what a person saw in these runs)")
	if err := fs.Parse(args); err != nil {
		return err
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
		if r.Company != nil {
			all = append(all, r)
		}
	}
	if len(all) == 0 {
		return errors.New("policy-report: no policy results among the files")
	}
	// By N, hs before headscale.
	slices.SortFunc(all, func(a, b *result) int {
		if a.Nodes != b.Nodes {
			return a.Nodes - b.Nodes
		}
		return strings.Compare(strings.Replace(a.Server, "hs", "0", 1), strings.Replace(b.Server, "hs", "0", 1))
	})
	var eng string
	if *engine != "" {
		b, err := os.ReadFile(*engine)
		if err != nil {
			return err
		}
		eng = string(b)
	}
	block := writePolicyReport(all, *hsVersion, *gen, eng)
	if *notes != "" {
		b, err := os.ReadFile(*notes)
		if err != nil {
			return err
		}
		block = strings.Replace(block, policySection.end, strings.TrimRight(string(b), "\n")+"\n\n"+policySection.end, 1)
	}
	return policySection.writeInto(*out, block)
}

var engineLine = regexp.MustCompile(`^policy\.json: (\d+) nodes: compile ([0-9.]+) ms`)

func writePolicyReport(all []*result, hsVersion, gen, engine string) string {
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s\n## policy: a company-shaped ACL policy\n\n", policySection.begin)
	fmt.Fprint(&w, "`make bench-policy` (also run by `make bench`; tests/bench/policy.sh). `hs-loadgen policy-gen` builds a company from a seed: users with 1-3 devices, every tenth node a tagged server (100 tags, some servers with two), 50 department groups, 500 `acls` lines: one per team of about 20 devices (its users reach each other), 50 department lines (`group:deptK` reaches `tag:svcK` on 22 and 443), 100 service lines (`tag:svcI` reaches `tag:svcI+1` on 5432), and port-only lines inside teams that change nobody's peers. The generator also computes, by Tailscale's rule (a node sees another when a line lets either reach the other), the peers every node should see. Both servers read the same policy file (`policy.mode: file`).\n\n")
	fmt.Fprint(&w, "Keys are made with each server's own CLI, 4 commands at a time: a user and a reusable key per user, one tagged key per tag set. Every node registers with its key and streams its map, from its own loopback address (127.1.x.y: hs-control allows 64 unauthenticated connections per source address, which the storm of thousands of nodes from one address would otherwise hit). Every node decodes its full maps: the peers must be exactly those the policy allows. **Policy change**: after a second in which no node received anything but keepalives, the policy file is replaced by one where department K reaches `tag:svcK+50` instead (from about 1,000 nodes on, this changes the peers of every node), and the server gets SIGHUP; the time is until every affected node received a message after it, the CPU is the server's from the change until then (and 2 s more). **Storm**: the server restarts under all nodes, as in the main scenarios, with the changed policy.\n\n")
	fmt.Fprintf(&w, "- date: %s\n- machine: %s; shared with other builds and tests while these ran, so the load average is part of each figure\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machineLine())
	fmt.Fprintf(&w, "- load generator: tests/bench/loadgen on %s; server on CPU 0, generator on CPU 1\n", gen)
	for _, r := range all {
		v := r.Version
		if r.Server == "hs" && v == "" {
			v = hsVersion
		}
		at := ""
		if c := r.Company.Change; c != nil {
			at = fmt.Sprintf(", at the change %.2f", c.LoadAvg)
		}
		fmt.Fprintf(&w, "- %s %s, N=%d: load average (1 min) before %.2f%s, after %.2f\n", r.Server, v, r.Nodes, r.LoadBefore, at, r.LoadAfter)
	}
	if engine != "" {
		fmt.Fprintf(&w, "\nThe engine alone (`hs-policy-bench --company DIR` on the same companies, one core, median of 5):\n\n```\n%s```\n", engine)
	}
	fmt.Fprintf(&w, "\n| |")
	for _, r := range all {
		fmt.Fprintf(&w, " %s N=%d |", r.Server, r.Nodes)
	}
	fmt.Fprintf(&w, "\n|---|%s\n", strings.Repeat("---:|", len(all)))
	row := func(title string, get func(r *result) string) {
		fmt.Fprintf(&w, "| %s |", title)
		for _, r := range all {
			fmt.Fprintf(&w, " %s |", get(r))
		}
		fmt.Fprintln(&w)
	}
	na := "-"
	row("users / tagged nodes / tag sets", func(r *result) string {
		s := r.Company.Shape
		return fmt.Sprintf("%d / %d / %d", s.Users, s.Tagged, s.TagSets)
	})
	row("peers the policy allows, p50 / max", func(r *result) string {
		s := r.Company.Shape
		return fmt.Sprintf("%d / %d", s.PeersP50, s.PeersMax)
	})
	row("keys made (CLI), seconds", func(r *result) string {
		return fmt.Sprintf("%d in %.0f s", r.Company.Keys, r.Company.KeysSeconds)
	})
	row("registered", func(r *result) string {
		if r.Register == nil {
			return na
		}
		return fmt.Sprintf("%d in %.0f s (%.1f/s)", r.Register.OK, r.Register.Seconds, r.Register.NodesPerSecond)
	})
	row("connect: nodes with a full map, s", func(r *result) string {
		if r.Connect == nil {
			return na
		}
		return fmt.Sprintf("%d in %.1f s", r.Connect.NodesWithMap, r.Connect.Seconds)
	})
	maps := func(s *fullMapStats) string {
		if s == nil {
			return na
		}
		return fmt.Sprintf("%d / %d B; %d / %d peers; %d wrong", s.MapBytesP50, s.MapBytesMax, s.PeersP50, s.PeersMax, s.WrongPeers)
	}
	row("full map p50 / max (zstd), peers p50 / max, nodes with wrong peers", func(r *result) string { return maps(r.Company.Connect) })
	change := func(get func(c *policyChangeResult) string) func(r *result) string {
		return func(r *result) string {
			if r.Company.Change == nil {
				return na
			}
			return get(r.Company.Change)
		}
	}
	row("**policy change: all affected nodes reached (s)**", change(func(c *policyChangeResult) string {
		if c.Reached < c.Affected {
			return fmt.Sprintf("**%d of %d** within the limit", c.Reached, c.Affected)
		}
		return fmt.Sprintf("**%.3f**", c.Seconds)
	}))
	row("policy change: median node (s)", change(func(c *policyChangeResult) string { return fmt.Sprintf("%.3f", c.P50Seconds) }))
	row("policy change: affected nodes", change(func(c *policyChangeResult) string { return fmt.Sprint(c.Affected) }))
	row("**policy change: server CPU-s** (+2 s after)", change(func(c *policyChangeResult) string {
		return fmt.Sprintf("**%.2f** (%.2f)", c.CPUSeconds, c.CPUSecondsSettled)
	}))
	row("policy change: MB all nodes received", change(func(c *policyChangeResult) string { return fmt.Sprintf("%.1f", c.MBReceived) }))
	row("policy change: observers' peers right", change(func(c *policyChangeResult) string { return fmt.Sprint(c.ObserversOK) }))
	storm := func(get func(s *stormResult) string) func(r *result) string {
		return func(r *result) string {
			if r.Storm == nil {
				return na
			}
			return get(r.Storm)
		}
	}
	row("storm: all nodes have their map again (s)", storm(func(s *stormResult) string {
		return fmt.Sprintf("%.1f (%d of %d)", s.Seconds, s.NodesWithMap, s.Expected)
	}))
	row("storm: server CPU-s, peak RSS MiB", storm(func(s *stormResult) string {
		return fmt.Sprintf("%.1f, %.0f", s.CPUSeconds, float64(s.PeakRSSKB)/1024)
	}))
	row("storm: full maps p50 / max, peers, wrong", func(r *result) string { return maps(r.Company.Storm) })

	// Targets (the issue's): hs against headscale at the same N.
	fmt.Fprintf(&w, "\nTargets:\n\n")
	byKey := map[string]*result{}
	for _, r := range all {
		byKey[fmt.Sprintf("%s-%d", r.Server, r.Nodes)] = r
	}
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	for _, r := range all {
		if r.Server != "hs" || r.Company.Change == nil {
			continue
		}
		c := r.Company.Change
		done := c.Reached == c.Affected && c.Affected > 0
		if r.Nodes <= 2000 {
			fmt.Fprintf(&w, "- a policy change reaches all %d nodes in < 1 s: %.3f s, %s\n", r.Nodes, c.Seconds, mark(done && c.Seconds < 1))
		} else {
			fmt.Fprintf(&w, "- (N=%d, no target) a policy change reaches all nodes in %.3f s, server CPU %.2f s\n", r.Nodes, c.Seconds, c.CPUSeconds)
		}
		if h := byKey[fmt.Sprintf("headscale-%d", r.Nodes)]; h != nil && h.Company.Change == nil {
			reg := 0
			if h.Register != nil {
				reg = h.Register.OK
			}
			why := "before its run ended"
			for _, p := range h.Problems {
				switch {
				case strings.Contains(p, "context canceled"):
					why = "before its run was stopped (SIGTERM)"
				case strings.Contains(p, "deadline exceeded"):
					why = "within the run's time limit"
				}
			}
			fmt.Fprintf(&w, "- at least 10x faster than headscale, with at most 1/10 of its CPU: not measured at N=%d: headscale registered %d of %d nodes %s, so its policy change never ran (hs: all nodes reached in %.3f s, %.2f CPU-s)\n", r.Nodes, reg, r.Nodes, why, c.Seconds, c.CPUSeconds)
		} else if h != nil {
			hc := h.Company.Change
			if hc.Reached == hc.Affected && hc.Affected > 0 && c.Seconds > 0 {
				fmt.Fprintf(&w, "- at least 10x faster than headscale: %.3f s against %.3f s, %.1fx, %s\n", c.Seconds, hc.Seconds, hc.Seconds/c.Seconds, mark(done && hc.Seconds >= 10*c.Seconds))
			} else {
				fmt.Fprintf(&w, "- at least 10x faster than headscale: headscale reached %d of %d nodes within the limit, hs all in %.3f s, %s\n", hc.Reached, hc.Affected, c.Seconds, mark(done))
			}
			cpu := "hs used no measurable CPU (under 0.01 s)"
			if c.CPUSeconds > 0 {
				cpu = fmt.Sprintf("%.1fx less", hc.CPUSeconds/c.CPUSeconds)
			}
			fmt.Fprintf(&w, "- at most 1/10 of headscale's CPU: %.2f CPU-s against %.2f, %s, %s\n", c.CPUSeconds, hc.CPUSeconds, cpu, mark(c.CPUSeconds*10 <= hc.CPUSeconds))
		}
		if s := r.Company.Connect; s != nil {
			fmt.Fprintf(&w, "- a node that may reach ~20 peers gets a map of ~20 peers, not %d: median %d peers (the policy allows %d), %d nodes with a peer set other than the policy's, %s\n", r.Nodes, s.PeersP50, r.Company.Shape.PeersP50, s.WrongPeers, mark(s.WrongPeers == 0 && s.Nodes == r.Nodes && s.PeersP50 == int64(r.Company.Shape.PeersP50)))
		}
	}
	for _, l := range strings.Split(engine, "\n") {
		if m := engineLine.FindStringSubmatch(l); m != nil && m[1] == "10000" {
			ms, _ := strconv.ParseFloat(m[2], 64)
			fmt.Fprintf(&w, "- a full compile of 10,000 nodes x 500 lines in < 200 ms: %.1f ms, %s\n", ms, mark(ms < 200))
		}
	}
	fmt.Fprintln(&w)
	for _, r := range all {
		for _, p := range r.Problems {
			fmt.Fprintf(&w, "- %s N=%d: %s\n", r.Server, r.Nodes, p)
		}
	}
	fmt.Fprintf(&w, "\n%s", policySection.end)
	return w.String()
}
