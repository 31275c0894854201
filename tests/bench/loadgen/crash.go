package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"tailscale.com/util/zstdframe"
)

// crashResult is the crash scenario (issue 20): nodes register while the server is SIGKILLed
// at fixed points; every node whose attempt failed retries until it is registered. What each
// node ended up with is listed so the test can hold it against the database.
type crashResult struct {
	Nodes      int            `json:"nodes"`
	Registered int            `json:"registered"`
	Retried    int            `json:"retried"`  // nodes that needed more than one attempt
	Attempts   int            `json:"attempts"` // register attempts in all
	Errors     map[string]int `json:"errors_by_kind"`
	Kills      []crashKill    `json:"kills"`
	Seconds    float64        `json:"seconds"`
	WithAddrs  int            `json:"nodes_with_addresses"`
	Records    []crashRecord  `json:"records"`
	SingleUse  int            `json:"single_use_key_nodes"`
}

type crashKill struct {
	AfterRegistered int     `json:"after_registered"`
	InFlight        int     `json:"in_flight"` // register requests outstanding at the kill
	Burst           bool    `json:"burst"`     // killed while the retries after a restart poured in
	Self            bool    `json:"self"`      // the server stopped itself (a crash point), restarted
	DownSeconds     float64 `json:"down_seconds"`
}

// crashRecord is what the server told one node: its keys, name and addresses.
type crashRecord struct {
	Name       string `json:"name"`
	MachineKey string `json:"machine_key"`
	NodeKey    string `json:"node_key"`
	IPv4       string `json:"ipv4"`
	IPv6       string `json:"ipv6"`
	Attempts   int    `json:"attempts"`
}

// crasher kills and restarts the server when the registered count reaches each of killAt,
// and once more (burst) as soon as the retries after the last of those restarts fill the
// workers again.
type crasher struct {
	b        *bench
	killAt   []int
	burst    bool
	mu       sync.Mutex
	inFlight atomic.Int64
	done     atomic.Int64
	kills    []crashKill
	burstArm bool // the last fixed kill happened; the burst kill is due
	stopped  chan struct{}
}

// killRestart SIGKILLs the server's process group (or, with self, finds it gone by its own
// hand) and starts it again with the same command.
func (c *crasher) killRestart(ctx context.Context, burst, self bool) {
	k := crashKill{AfterRegistered: int(c.done.Load()), InFlight: int(c.inFlight.Load()), Burst: burst, Self: self}
	t0 := time.Now()
	logf("crash: SIGKILL after %d registrations, %d in flight (burst %v, self %v)", k.AfterRegistered, k.InFlight, burst, self)
	c.b.srv.kill()
	if err := c.b.srv.start(); err != nil {
		c.b.problem("crash: restart: %v", err)
	} else if err := c.b.srv.waitReady(ctx, 30*time.Second); err != nil {
		c.b.problem("crash: restart: %v", err)
	}
	k.DownSeconds = time.Since(t0).Seconds()
	c.kills = append(c.kills, k)
}

// watch runs the kills from its own goroutine until ctx ends or every kill has happened.
func (c *crasher) watch(ctx context.Context) {
	defer close(c.stopped)
	next := 0
	for ctx.Err() == nil {
		switch {
		case c.b.opt.restartExited && c.b.srv.exited():
			c.killRestart(ctx, false, true)
		case next < len(c.killAt) && int(c.done.Load()) >= c.killAt[next]:
			c.killRestart(ctx, false, false)
			next++
			c.burstArm = next == len(c.killAt) && c.burst
		case c.burstArm && c.inFlight.Load() >= int64(max(c.b.opt.concurrency/2, 1)):
			// The workers are full again right after a restart: most of them are retries.
			time.Sleep(time.Duration(rand.Int64N(int64(20 * time.Millisecond))))
			c.killRestart(ctx, true, false)
			c.burstArm = false
		case next == len(c.killAt) && !c.burstArm && !c.b.opt.restartExited:
			return
		default:
			time.Sleep(time.Millisecond)
		}
	}
}

// eachIndex calls f(i) for i in [0, n) from `workers` goroutines, taking indices in order,
// until all are done or ctx ends; it returns when every call has returned.
func eachIndex(ctx context.Context, n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// crashErrorKind sorts a failed attempt: what a client sees when its server dies.
func crashErrorKind(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(s, "connection refused"):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(s, "connection reset"):
		return "reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(s, "EOF"):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "http 5"):
		return "http_5xx"
	case strings.Contains(s, "http 4"):
		return "http_4xx"
	case strings.Contains(s, "register refused"):
		return "refused_by_server"
	}
	return "other"
}

// untilDone retries op with a capped jittered backoff until it succeeds or ctx ends; it
// returns the attempts made and the last error.
func untilDone(ctx context.Context, op func(context.Context) error, failed func(error)) (int, error) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := op(c)
		cancel()
		if err == nil || ctx.Err() != nil {
			return attempt, err
		}
		failed(err)
		select {
		case <-ctx.Done():
			return attempt, err
		case <-time.After(backoff/2 + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// crash registers opt.nodes nodes, opt.concurrency at a time, killing the server at
// opt.killAt; then asks the (last) server each node's addresses with a one-shot map request.
func (b *bench) crash(ctx context.Context) error {
	nodes, err := b.newNodes()
	if err != nil {
		return err
	}
	// Half the nodes bring keys of their own: a single-use key spent without its node row
	// (or a row without its key spent) would leave that node unable to register again.
	if b.opt.singleKeyCmd != "" {
		t0 := time.Now()
		for i := 0; i < len(nodes); i += 2 {
			if nodes[i].authKey, err = runShell(ctx, b.opt.singleKeyCmd); err != nil {
				return err
			}
		}
		logf("crash: %d single-use keys in %.1fs", (len(nodes)+1)/2, time.Since(t0).Seconds())
	}
	r := &crashResult{Nodes: len(nodes), Errors: map[string]int{}, Records: make([]crashRecord, len(nodes))}
	b.res.Crash = r
	regCtx, cancel := context.WithTimeout(ctx, b.opt.phaseTimeout)
	defer cancel()
	c := &crasher{b: b, killAt: b.opt.killAt, burst: b.opt.killBurst, stopped: make(chan struct{})}
	watchCtx, stopWatch := context.WithCancel(regCtx)
	go c.watch(watchCtx)
	var mu sync.Mutex
	failed := func(err error) {
		mu.Lock()
		r.Errors[crashErrorKind(err)]++
		mu.Unlock()
		if debug {
			logf("crash: %v", err)
		}
	}
	start := time.Now()
	eachIndex(regCtx, len(nodes), b.opt.concurrency, func(i int) {
		n := nodes[i]
		attempts, err := untilDone(regCtx, func(ctx context.Context) error {
			c.inFlight.Add(1)
			defer c.inFlight.Add(-1)
			return n.register(ctx, b.e)
		}, failed)
		r.Records[i] = crashRecord{Name: n.name, MachineKey: n.mk.Public().String(), NodeKey: n.nk.Public().String(), Attempts: attempts}
		if err == nil {
			c.done.Add(1)
		}
	})
	stopWatch()
	<-c.stopped
	r.Seconds, r.Kills = time.Since(start).Seconds(), c.kills
	for _, rec := range r.Records {
		r.Attempts += rec.Attempts
		if rec.Attempts > 1 {
			r.Retried++
		}
	}
	r.Registered = int(c.done.Load())
	for _, n := range nodes {
		if n.authKey != "" {
			r.SingleUse++
		}
	}
	if r.Registered < len(nodes) {
		b.problem("crash: only %d of %d nodes registered within %s", r.Registered, len(nodes), b.opt.phaseTimeout)
	}
	want := len(b.opt.killAt)
	if b.opt.killBurst && want > 0 {
		want++
	}
	if len(r.Kills) < want {
		b.problem("crash: %d of %d kills happened", len(r.Kills), want)
	}
	b.crashAddresses(ctx, nodes, r, failed)
	return nil
}

// crashAddresses fills each record's addresses from a one-shot map request to the server.
func (b *bench) crashAddresses(ctx context.Context, nodes []*node, r *crashResult, failed func(error)) {
	addrCtx, cancel := context.WithTimeout(ctx, b.opt.phaseTimeout)
	defer cancel()
	var have atomic.Int64
	var mu sync.Mutex
	var missing []string
	// Every node asks, also after addrCtx ended: each then fails at once and is listed.
	eachIndex(ctx, len(nodes), b.opt.concurrency, func(i int) {
		rec := &r.Records[i]
		_, err := untilDone(addrCtx, func(ctx context.Context) error {
			var err error
			rec.IPv4, rec.IPv6, err = nodes[i].selfAddresses(ctx, b.e)
			return err
		}, failed)
		if err != nil {
			mu.Lock()
			missing = append(missing, fmt.Sprintf("%s: %v", nodes[i].name, err))
			mu.Unlock()
			return
		}
		have.Add(1)
	})
	r.WithAddrs = int(have.Load())
	if len(missing) > 0 {
		b.problem("crash: %d nodes got no addresses, first: %s", len(missing), missing[0])
	}
}

// selfAddresses asks for one map (no stream) and returns the node's own IPv4 and IPv6.
func (n *node) selfAddresses(ctx context.Context, e *env) (string, string, error) {
	ep := n.initialEndpoint()
	req := n.mapRequest(e, false, ep)
	req.OmitPeers = false // without peers and stream it would be a lite update, answered empty
	res, err := n.post(ctx, "/machine/map", req)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	var hdr [4]byte
	if _, err := io.ReadFull(res.Body, hdr[:]); err != nil {
		return "", "", fmt.Errorf("map: %w", err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size > maxFrame {
		return "", "", fmt.Errorf("map frame of %d bytes", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		return "", "", fmt.Errorf("map frame: %w", err)
	}
	plain, err := zstdframe.AppendDecode(nil, buf)
	if err != nil {
		return "", "", fmt.Errorf("map frame zstd: %w", err)
	}
	var mr struct {
		Node *struct{ Addresses []netip.Prefix }
	}
	if err := json.Unmarshal(plain, &mr); err != nil {
		return "", "", fmt.Errorf("map JSON: %w", err)
	}
	if mr.Node == nil {
		return "", "", errors.New("map without Node")
	}
	var v4, v6 string
	for _, p := range mr.Node.Addresses {
		if p.Addr().Is4() {
			v4 = p.Addr().String()
		} else {
			v6 = p.Addr().String()
		}
	}
	return v4, v6, nil
}

func (r *crashResult) String() string {
	return fmt.Sprintf("%d of %d registered in %.1fs, %d kills, %d nodes retried (%d attempts), errors %v, %d with addresses",
		r.Registered, r.Nodes, r.Seconds, len(r.Kills), r.Retried, r.Attempts, r.Errors, r.WithAddrs)
}
