package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// scaleResult is the tailnet growing to N nodes the way a real one does: each node registers
// and opens its map stream straight away, so every registration lands on a tailnet whose
// earlier nodes are all connected (issue 19, finding 8).
type scaleResult struct {
	Registered int     `json:"registered"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	// Registrations per second over each successive thousand (the last block may be shorter).
	RateByThousand []float64 `json:"register_per_second_by_thousand"`
	NodesWithMap   int       `json:"nodes_with_map"`
	MapsSeconds    float64   `json:"maps_seconds"`
	HoldSeconds    float64   `json:"hold_seconds"`
	// After the hold: nodes whose stream is open, map requests or streams that failed since
	// the start, and what the server sent every node in all.
	Connected      int     `json:"connected_after_hold"`
	StreamsDropped int64   `json:"streams_dropped"`
	Messages       int64   `json:"messages_received"`
	MB             float64 `json:"mb_received"`
	// The server's process, nil (null) with --external.
	rssFigures
	PeakRSSKB        *int64   `json:"peak_rss_kb"`
	ServerCPUSeconds *float64 `json:"server_cpu_seconds"`
	PeersOK          bool     `json:"peers_ok"`
}

// scale registers opt.nodes nodes, opt.concurrency at a time, each streaming as soon as it is
// registered; then waits for every map, holds for opt.hold and counts what survived.
func (b *bench) scale(ctx context.Context) error {
	nodes, err := b.newNodes()
	if err != nil {
		return err
	}
	r := &scaleResult{}
	b.res.Scale = r
	cpu0 := b.serverCPU()
	var (
		mu    sync.Mutex
		done  []time.Time
		first string
	)
	start := time.Now()
	// A slow server is cut off after opt.registerLimit, but its nodes still get their time to
	// have maps and the hold: those are what is measured of it.
	regCtx, cancel := context.WithTimeout(ctx, b.opt.registerLimit)
	defer cancel()
	b.registerEach(regCtx, nodes, func(i int, err error, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			r.Failed++
			if first == "" {
				first = err.Error()
			}
			return
		}
		done = append(done, time.Now())
		b.nodes = append(b.nodes, nodes[i])
		b.startStream(nodes[i])
		if len(done)%1000 == 0 {
			logf("scale: %d registered after %.1fs", len(done), time.Since(start).Seconds())
		}
	})
	r.Registered, r.Seconds = len(done), time.Since(start).Seconds()
	r.RateByThousand = ratesByThousand(start, done)
	if r.Failed > 0 {
		b.problem("scale: %d registrations failed, first: %s", r.Failed, first)
	}
	if regCtx.Err() != nil {
		b.problem("scale: registration stopped after %d nodes: %v", r.Registered, regCtx.Err())
	}
	have, last := waitMaps(ctx, b.nodes, start, b.opt.phaseTimeout)
	r.NodesWithMap, r.MapsSeconds = have, last.Seconds()
	if have < len(b.nodes) {
		b.problem("scale: only %d of %d nodes had a map %s after the last registration", have, len(b.nodes), b.opt.phaseTimeout)
	}
	hold := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(b.opt.hold):
	}
	r.HoldSeconds = time.Since(hold).Seconds()
	for _, nd := range b.nodes {
		if nd.live.Load() {
			r.Connected++
		}
		r.Messages += nd.frames.Load()
		r.MB += float64(nd.bytes.Load()) / 1e6
	}
	r.StreamsDropped = b.failures()
	r.rssFigures, r.PeakRSSKB = b.serverRSS(len(b.nodes))
	r.ServerCPUSeconds = since(b.serverCPU(), cpu0)
	r.PeersOK = b.checkObservers("scale", b.nodes, 10*time.Second)
	if r.StreamsDropped > 0 {
		b.problem("scale: %d map requests or streams failed on the way (each node redials after a 100 ms-1 s backoff)", r.StreamsDropped)
	}
	if r.Connected < len(b.nodes) {
		b.problem("scale: %d of %d nodes connected after the %.0fs hold; %d streams dropped", r.Connected, len(b.nodes), r.HoldSeconds, r.StreamsDropped)
	}
	return nil
}

// ratesByThousand: registrations per second within each successive block of 1000 completions.
func ratesByThousand(start time.Time, done []time.Time) []float64 {
	slices.SortFunc(done, func(a, b time.Time) int { return a.Compare(b) })
	var out []float64
	prev := start
	for i := 0; i < len(done); i += 1000 {
		end := min(i+1000, len(done))
		d := done[end-1].Sub(prev).Seconds()
		out = append(out, float64(end-i)/max(d, 1e-9))
		prev = done[end-1]
	}
	return out
}

func (r *scaleResult) minRate() float64 {
	if len(r.RateByThousand) == 0 {
		return 0
	}
	return slices.Min(r.RateByThousand)
}

func (r *scaleResult) String() string {
	return fmt.Sprintf("%d registered in %.1fs (min %.0f/s by thousand), %d with maps, %d connected after hold, %d dropped, %d messages, %.0f MB, RSS %s KiB/node",
		r.Registered, r.Seconds, r.minRate(), r.NodesWithMap, r.Connected, r.StreamsDropped, r.Messages, r.MB, optional(r.RSSPerNodeKB, 1))
}
