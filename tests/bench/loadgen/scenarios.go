package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// bench holds one run against one server: the nodes, the server process and the options.
type bench struct {
	opt   options
	e     *env
	srv   *server
	nodes []*node // registered nodes, observers first
	res   *result

	runCtx context.Context
	wg     sync.WaitGroup

	// The policy scenario: the company, and whether its changed policy is in force.
	co          *company
	coChanged   bool
	companyKeys map[string]string // user name or tag set ("tag:a,tag:b") to its pre-auth key
}

func (b *bench) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Problems = append(b.res.Problems, msg)
	logf("problem: %s", msg)
}

// newNodes makes opt.nodes fresh nodes, the first opt.observers of them observers.
func (b *bench) newNodes() ([]*node, error) {
	nodes := make([]*node, b.opt.nodes)
	for i := range nodes {
		observe := i < b.opt.observers
		if b.co != nil {
			observe = b.companyObserver(i)
		}
		nd, err := newNode(b.e, i, observe)
		if err != nil {
			return nil, err
		}
		if b.co != nil {
			nd.authKey = b.companyKey(i)
			nd.decodeFull = true
		}
		nodes[i] = nd
	}
	return nodes, nil
}

// registerAll registers opt.nodes fresh nodes with opt.concurrency workers.
func (b *bench) registerAll(ctx context.Context) error {
	n := b.opt.nodes
	nodes, err := b.newNodes()
	if err != nil {
		return err
	}
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	start := time.Now()
	b.registerEach(ctx, nodes, func(i int, err error, took time.Duration) { errs[i], lat[i] = err, took })
	elapsed := time.Since(start)
	r := &registerResult{Seconds: elapsed.Seconds()}
	var okLat []time.Duration
	for i, err := range errs {
		if err == nil && lat[i] == 0 {
			continue // never tried: the run's deadline came first
		}
		if err != nil {
			r.Failed++
			if r.FirstError == "" {
				r.FirstError = err.Error()
			}
			continue
		}
		r.OK++
		okLat = append(okLat, lat[i])
		b.nodes = append(b.nodes, nodes[i])
	}
	r.NodesPerSecond = float64(r.OK) / elapsed.Seconds()
	r.P50ms, r.P99ms = pct(okLat, 50), pct(okLat, 99)
	b.res.Register = r
	if r.Failed > 0 {
		b.problem("register: %d of %d failed, first: %s", r.Failed, n, r.FirstError)
	}
	if r.OK == 0 {
		return fmt.Errorf("no node registered: %s", r.FirstError)
	}
	return nil
}

// registerEach registers nodes, opt.concurrency at a time, until all are done or ctx ends;
// done is called, from the worker, after each attempt.
func (b *bench) registerEach(ctx context.Context, nodes []*node, done func(i int, err error, took time.Duration)) {
	eachIndex(ctx, len(nodes), b.opt.concurrency, func(i int) {
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		t0 := time.Now()
		err := nodes[i].register(c, b.e)
		cancel()
		done(i, err, time.Since(t0))
	})
}

// waitMaps waits until every node has a full map received at or after t (or ctx ends); it
// returns how many have one and when the last of them arrived.
func waitMaps(ctx context.Context, nodes []*node, t time.Time, limit time.Duration) (int, time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		have := 0
		var last int64
		for _, n := range nodes {
			if n.mapSince(t) {
				have++
				last = max(last, n.lastMap.Load())
			}
		}
		if have == len(nodes) || time.Now().After(deadline) || ctx.Err() != nil {
			return have, time.Duration(last - t.UnixNano())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantPeers is the host names a node should see now: every other node, or in the policy
// scenario the peers the company's policy in force allows.
func (b *bench) wantPeers(n *node) []string {
	if b.co == nil {
		names := make([]string, 0, len(b.nodes)-1)
		for _, m := range b.nodes {
			if m != n {
				names = append(names, m.name)
			}
		}
		slices.Sort(names)
		return names
	}
	peers := b.co.PeersBefore
	if b.coChanged {
		peers = b.co.PeersAfter
	}
	names := make([]string, len(peers[n.idx]))
	for i, p := range peers[n.idx] {
		names[i] = nodeName(p)
	}
	return names
}

// checkObservers waits (briefly) until each observer's current peer set is what it should be.
func (b *bench) checkObservers(phase string, nodes []*node, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	want := map[*node][]string{}
	for _, n := range nodes {
		if n.obs != nil {
			want[n] = b.wantPeers(n)
		}
	}
	for {
		bad := ""
		for _, n := range nodes {
			if n.obs == nil {
				continue
			}
			v := n.obs.view()
			switch {
			case v.err != nil:
				bad = fmt.Sprintf("%s: %v", n.name, v.err)
			case !v.selfSeen:
				bad = fmt.Sprintf("%s: no self node in its map", n.name)
			case v.peers != len(want[n]):
				bad = fmt.Sprintf("%s sees %d peers, want %d", n.name, v.peers, len(want[n]))
			case !slices.Equal(v.names, want[n]):
				bad = fmt.Sprintf("%s sees %d peers, as many as it should, but not the right ones", n.name, v.peers)
			}
			if bad != "" {
				break
			}
		}
		if bad == "" {
			return true
		}
		if time.Now().After(deadline) {
			b.problem("%s: %s", phase, bad)
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failures counts the failed map requests and streams of every node so far.
func (b *bench) failures() (sum int64) {
	for _, n := range b.nodes {
		sum += n.failures.Load()
	}
	return sum
}

func (b *bench) startStream(n *node) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		n.run(b.runCtx, b.e)
	}()
}

// connect opens every node's map stream at once and times the first full maps.
func (b *bench) connect() {
	t, cpu0 := time.Now(), selfCPU()
	for _, n := range b.nodes {
		b.startStream(n)
	}
	have, last := waitMaps(b.runCtx, b.nodes, t, b.opt.phaseTimeout)
	r := &connectResult{NodesWithMap: have, Seconds: last.Seconds(), GeneratorCPU: selfCPU() - cpu0}
	var sizes []int64
	for _, n := range b.nodes {
		sizes = append(sizes, n.mapBytes.Load())
	}
	r.MapBytesP50 = pctInt(sizes, 50)
	if have < len(b.nodes) {
		b.problem("connect: only %d of %d nodes got a map within %s", have, len(b.nodes), b.opt.phaseTimeout)
	}
	r.PeersOK = b.checkObservers("connect", b.nodes, 10*time.Second)
	if b.co != nil {
		b.res.Company.Connect = b.fullMaps("connect")
	}
	if b.srv != nil {
		time.Sleep(b.opt.settle)
		r.rssFigures, _ = b.serverRSS(len(b.nodes))
	}
	b.res.Connect = r
}

// churn sends opt.churnRate endpoint changes per second for opt.churnDuration from random
// counting nodes and times their arrival at every observer.
func (b *bench) churn(ctx context.Context) {
	var senders []*node
	for _, n := range b.nodes {
		if n.obs == nil {
			senders = append(senders, n)
		}
	}
	if len(senders) == 0 {
		senders = b.nodes
	}
	// A shuffled round robin rather than random picks: a node changing twice within one of
	// the server's batching windows would have its first endpoint superseded, not delivered.
	senders = slices.Clone(senders)
	rand.Shuffle(len(senders), func(i, j int) { senders[i], senders[j] = senders[j], senders[i] })
	observers := 0
	for _, n := range b.nodes {
		if n.obs != nil {
			observers++
		}
	}
	r := &churnResult{Rate: b.opt.churnRate, DurationSeconds: b.opt.churnDuration.Seconds()}
	var sendErrs atomic.Int64
	var firstErr atomic.Value
	var inflight sync.WaitGroup
	received := func() (sum int64) {
		for _, n := range b.nodes {
			sum += n.bytes.Load()
		}
		return sum
	}
	cpu0, gen0, bytes0 := b.serverCPU(), selfCPU(), received()
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / b.opt.churnRate))
	expected := 0
	for time.Since(start) < b.opt.churnDuration {
		<-tick.C
		n := senders[r.Updates%len(senders)]
		ep, seq, ok := b.e.churn.take()
		if !ok {
			break
		}
		r.Updates++
		expected += observers
		if n.obs != nil {
			expected--
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			b.e.churn.markSent(seq, time.Now())
			if err := n.sendEndpoint(c, b.e, ep); err != nil {
				sendErrs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	tick.Stop()
	wall := time.Since(start).Seconds()
	if cpu := since(b.serverCPU(), cpu0); cpu != nil {
		pct := 100 * *cpu / wall
		r.ServerCPUPercent = &pct
	}
	r.GeneratorCPUPercent = 100 * (selfCPU() - gen0) / wall
	r.ReceivedMBps = float64(received()-bytes0) / wall / 1e6
	inflight.Wait()
	// Give late deliveries a bounded grace period.
	var lat []time.Duration
	deadline := time.Now().Add(b.opt.churnGrace)
	for {
		lat = lat[:0]
		for _, n := range b.nodes {
			if n.obs != nil {
				lat = append(lat, n.obs.view().latencies...)
			}
		}
		if len(lat) >= expected || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.SendErrors = int(sendErrs.Load())
	r.Expected, r.Delivered = expected, len(lat)
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100)
	b.res.Churn = r
	if r.SendErrors > 0 {
		b.problem("churn: %d updates failed, first: %v", r.SendErrors, firstErr.Load())
	}
	if r.Delivered < r.Expected {
		b.problem("churn: %d of %d expected deliveries arrived", r.Delivered, r.Expected)
	}
}

// join registers opt.joins more nodes one at a time while the others stay online, timing each
// from the start of its registration to its first full map.
func (b *bench) join(ctx context.Context) {
	r := &joinResult{PeersOK: true}
	var total, reg []time.Duration
	for j := 0; j < b.opt.joins; j++ {
		n, err := newNode(b.e, len(b.nodes), true)
		if err != nil {
			b.problem("join: %v", err)
			break
		}
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		t0 := time.Now()
		err = n.register(c, b.e)
		cancel()
		if err != nil {
			b.problem("join %d: %v", j, err)
			r.Failed++
			continue
		}
		reg = append(reg, time.Since(t0))
		b.startStream(n)
		b.nodes = append(b.nodes, n)
		if have, _ := waitMaps(ctx, []*node{n}, t0, 60*time.Second); have != 1 {
			b.problem("join %d: no map within 60s", j)
			r.Failed++
			continue
		}
		total = append(total, time.Duration(n.lastMap.Load()-t0.UnixNano()))
		if v := n.obs.view(); v.mapPeers != len(b.nodes)-1 {
			b.problem("join %d: first map has %d peers, want %d", j, v.mapPeers, len(b.nodes)-1)
			r.PeersOK = false
		}
	}
	r.Joins = len(total)
	r.P50ms, r.MaxMs = pct(total, 50), pct(total, 100)
	r.RegisterP50ms = pct(reg, 50)
	b.res.Join = r
}

// storm restarts the server under every connected node and times until each has its full map
// again; CPU time and peak RSS are the new process's own.
func (b *bench) storm(ctx context.Context) {
	r := &stormResult{Expected: len(b.nodes)}
	t0, cpu0 := time.Now(), selfCPU()
	b.srv.stop(30 * time.Second)
	r.StopSeconds = time.Since(t0).Seconds()
	t := time.Now()
	if err := b.srv.start(); err != nil {
		b.problem("storm: restart: %v", err)
		return
	}
	readyCh := make(chan time.Duration, 1)
	go func() {
		if err := b.srv.waitReady(ctx, b.opt.phaseTimeout); err != nil {
			readyCh <- -1
			return
		}
		readyCh <- time.Since(t)
	}()
	fails0 := b.failures()
	have, last := waitMaps(b.runCtx, b.nodes, t, b.opt.phaseTimeout)
	r.CPUSeconds = b.srv.cpuSeconds()
	r.StreamFailures = b.failures() - fails0
	var took []time.Duration
	for _, n := range b.nodes {
		if n.mapSince(t) {
			took = append(took, time.Duration(n.lastMap.Load()-t.UnixNano()))
		}
	}
	r.P50Seconds = pct(took, 50) / 1000
	_, r.PeakRSSKB = b.srv.memKB()
	r.NodesWithMap, r.Seconds = have, last.Seconds()
	r.GeneratorCPU = selfCPU() - cpu0
	r.ReadySeconds = (<-readyCh).Seconds()
	if have < len(b.nodes) {
		b.problem("storm: only %d of %d nodes got their map back within %s", have, len(b.nodes), b.opt.phaseTimeout)
	}
	r.PeersOK = b.checkObservers("storm", b.nodes, 10*time.Second)
	if b.co != nil {
		b.res.Company.Storm = b.fullMaps("storm")
	}
	b.res.Storm = r
}
