package main

import "fmt"

// --external: the server under test is already running at --url (several instances behind a
// load balancer, say), so hs-loadgen neither starts nor stops it. It then has no process of
// its own to read CPU time and memory from: those figures are null in the result, never a
// zero that could pass for a measurement, and the scenarios that restart, kill or signal the
// server cannot run.

// needOwnServer names the scenarios that start, stop or signal the server themselves.
var needOwnServer = []string{"storm", "crash", "policy"}

func checkExternal(o options) error {
	for _, s := range needOwnServer {
		if o.scenarios[s] {
			return fmt.Errorf("--external: scenario %s needs a server hs-loadgen starts itself (--server-cmd)", s)
		}
	}
	if o.policyPath != "" {
		return fmt.Errorf("--external: --policy writes the policy before it starts the server")
	}
	if o.serverCmd != "" {
		return fmt.Errorf("--external and --server-cmd exclude each other")
	}
	return nil
}

// serverCPU is the server's CPU time so far, or nil when hs-loadgen did not start it.
func (b *bench) serverCPU() *float64 {
	if b.srv == nil {
		return nil
	}
	v := b.srv.cpuSeconds()
	return &v
}

// serverRSS is the server's memory (VmRSS, and per node of nodes) and its peak (VmHWM) in KiB,
// or nils when hs-loadgen did not start it.
func (b *bench) serverRSS(nodes int) (rssFigures, *int64) {
	if b.srv == nil {
		return rssFigures{}, nil
	}
	rss, peak := b.srv.memKB()
	perNode := float64(rss) / float64(max(nodes, 1))
	return rssFigures{RSSKB: &rss, RSSPerNodeKB: &perNode}, &peak
}

// since is now-then (both from serverCPU), or nil when either is.
func since(now, then *float64) *float64 {
	if now == nil || then == nil {
		return nil
	}
	d := *now - *then
	return &d
}

// optional formats a server figure divided by div for a report: "-" when it was not measured.
func optional[T int64 | float64](v *T, div float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(*v)/div)
}
