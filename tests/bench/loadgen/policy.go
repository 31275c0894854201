package main

// The policy scenario (run --policy FILE): the nodes are the company of policygen.go, each
// registered as its user (one reusable key per user) or with a tagged key (one per tag set);
// both servers enforce the same policy from FILE. Every node decodes its full maps, whose
// peers are compared with what the policy allows; then the policy changes under all streaming
// nodes and the time until each affected node received a message is measured.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type fullMapStats struct {
	Nodes int `json:"nodes_with_map"`
	// Compressed size of each node's latest full map (bytes), and its peer count.
	MapBytesP50 int64 `json:"map_bytes_p50"`
	MapBytesMax int64 `json:"map_bytes_max"`
	PeersP50    int64 `json:"peers_p50"`
	PeersMax    int64 `json:"peers_max"`
	// Nodes whose full map did not hold exactly the peers the policy allows.
	WrongPeers int    `json:"nodes_with_wrong_peers"`
	FirstWrong string `json:"first_wrong,omitempty"`
}

type policyChangeResult struct {
	Reload string `json:"reload"` // how the server was told: sighup (after the file was replaced)
	// Nodes whose peers the change alters (all of them from about 1,000 nodes on), how many of
	// them received a message after the change, and when: the last one and the median.
	Affected   int     `json:"affected_nodes"`
	Reached    int     `json:"reached_nodes"`
	Seconds    float64 `json:"seconds"`
	P50Seconds float64 `json:"p50_seconds"`
	// The server's CPU-seconds from the change until the last node was reached, and until 2 s
	// after that (work that continued once every node had its message).
	CPUSeconds        float64 `json:"cpu_seconds"`
	CPUSecondsSettled float64 `json:"cpu_seconds_settled"`
	// Bytes all nodes received from the change to 2 s after the last was reached, and nodes
	// the change does not affect that still received something.
	MBReceived   float64 `json:"mb_received"`
	Unaffected   int     `json:"unaffected_nodes"`
	UnaffectedRx int     `json:"unaffected_nodes_with_a_message"`
	QuietRx      int     `json:"nodes_with_a_message_in_the_second_before"`
	ObserversOK  bool    `json:"observers_ok"`
	LoadAvg      float64 `json:"loadavg"`
}

type companyResult struct {
	Seed        uint64              `json:"seed"`
	Shape       companySummary      `json:"shape"`
	Keys        int                 `json:"keys"`
	KeysSeconds float64             `json:"keys_seconds"`
	Connect     *fullMapStats       `json:"connect,omitempty"`
	Change      *policyChangeResult `json:"change,omitempty"`
	Storm       *fullMapStats       `json:"storm,omitempty"`
}

// companyObserver picks observers spread over the tailnet, every other one a tagged node.
func (b *bench) companyObserver(i int) bool {
	n, k := b.opt.nodes, b.opt.observers
	if k >= n {
		return true
	}
	stride := n / k
	if i/stride >= k {
		return false
	}
	off := 0
	if (i/stride)%2 == 1 {
		off = 9 // (k*stride + 9 + 1) % 10 == 0 when stride is a multiple of 10: a tagged node
	}
	return i%stride == min(off, stride-1)
}

func tagSetKey(tags []string) string { return strings.Join(tags, ",") }

func (b *bench) companyKey(i int) string {
	nd := b.co.Nodes[i]
	if nd.User >= 0 {
		return b.companyKeys[b.co.Users[nd.User]]
	}
	return b.companyKeys[tagSetKey(nd.Tags)]
}

// makeCompanyKeys runs the server's admin CLI: the tag owner first, then one user and reusable
// key per user and one tagged key per tag set, 4 commands at a time. {user} and {tags} in the
// command templates are replaced.
func (b *bench) makeCompanyKeys(ctx context.Context) error {
	t0 := time.Now()
	b.companyKeys = map[string]string{}
	type job struct{ name, cmd string }
	var jobs []job
	for _, u := range b.co.Users {
		jobs = append(jobs, job{u, strings.ReplaceAll(b.opt.userKeyCmd, "{user}", u)})
	}
	for _, ts := range b.co.TagSets {
		cmd := strings.ReplaceAll(b.opt.tagKeyCmd, "{user}", tagOwner)
		jobs = append(jobs, job{tagSetKey(ts), strings.ReplaceAll(cmd, "{tags}", tagSetKey(ts))})
	}
	if _, err := runShell(ctx, strings.ReplaceAll(b.opt.userKeyCmd, "{user}", tagOwner)); err != nil {
		return fmt.Errorf("tag owner: %w", err)
	}
	var mu sync.Mutex
	var firstErr error
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				key, err := runShell(ctx, jobs[i].cmd)
				if err == nil && key == "" {
					err = fmt.Errorf("%q printed no key", jobs[i].cmd)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				b.companyKeys[jobs[i].name] = key
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	b.res.Company.Keys = len(jobs)
	b.res.Company.KeysSeconds = time.Since(t0).Seconds()
	return firstErr
}

// fullMaps compares every node's latest full map with the peers the policy in force allows.
func (b *bench) fullMaps(phase string) *fullMapStats {
	s := &fullMapStats{}
	var sizes, peers []int64
	for _, n := range b.nodes {
		got := n.mapPeers.Load()
		if got == nil {
			continue
		}
		s.Nodes++
		sizes = append(sizes, n.mapBytes.Load())
		peers = append(peers, int64(len(*got)))
		if want := b.wantPeers(n); !slices.Equal(*got, want) {
			s.WrongPeers++
			if s.FirstWrong == "" {
				s.FirstWrong = fmt.Sprintf("%s: %d peers in its full map, want %d", n.name, len(*got), len(want))
			}
		}
	}
	s.MapBytesP50, s.MapBytesMax = pctInt(sizes, 50), pctInt(sizes, 100)
	s.PeersP50, s.PeersMax = pctInt(peers, 50), pctInt(peers, 100)
	if s.WrongPeers > 0 {
		b.problem("%s: %d nodes' full maps do not hold the peers the policy allows; first: %s", phase, s.WrongPeers, s.FirstWrong)
	}
	return s
}

// writePolicy replaces the policy file the server reads, atomically.
func writePolicy(path string, p *policyDoc) error {
	tmp := filepath.Join(filepath.Dir(path), ".policy-next.json")
	if err := writeJSON(tmp, p); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// policyChange puts the changed policy in force under every streaming node and times until
// every node it affects received a message.
func (b *bench) policyChange(ctx context.Context) {
	r := &policyChangeResult{Reload: "sighup", ObserversOK: true, LoadAvg: loadAvg()}
	b.res.Company.Change = r
	affected := map[int]bool{}
	for _, i := range b.co.changed() {
		affected[i] = true
	}
	var aff, unaff []*node
	for _, n := range b.nodes {
		if affected[n.idx] {
			aff = append(aff, n)
		} else {
			unaff = append(unaff, n)
		}
	}
	r.Affected, r.Unaffected = len(aff), len(unaff)
	received := func() (sum int64) {
		for _, n := range b.nodes {
			sum += n.bytes.Load()
		}
		return sum
	}
	// Quiet first: up to 15 s until a whole second passes in which no node received anything
	// but keepalives, so no update of an earlier phase counts as this one's. What the last
	// second still saw is reported.
	for try := 0; try < 15; try++ {
		quiet := time.Now().UnixNano()
		time.Sleep(time.Second)
		r.QuietRx = 0
		for _, n := range b.nodes {
			if n.lastUpdate.Load() >= quiet {
				r.QuietRx++
			}
		}
		if r.QuietRx == 0 {
			break
		}
	}
	bytes0 := received()
	t0, cpu0 := time.Now(), b.srv.cpuSeconds()
	if err := writePolicy(b.opt.policyPath, &b.co.After); err != nil {
		b.problem("policy: %v", err)
		return
	}
	_ = syscall.Kill(b.srv.pid(), syscall.SIGHUP)
	b.coChanged = true
	deadline := t0.Add(b.opt.phaseTimeout)
	since := t0.UnixNano()
	var took []time.Duration
	for {
		took = took[:0]
		for _, n := range aff {
			if t := n.lastUpdate.Load(); t >= since {
				took = append(took, time.Duration(t-since))
			}
		}
		if len(took) == len(aff) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.CPUSeconds = b.srv.cpuSeconds() - cpu0
	r.Reached = len(took)
	r.Seconds = pct(took, 100) / 1000
	r.P50Seconds = pct(took, 50) / 1000
	time.Sleep(2 * time.Second)
	r.CPUSecondsSettled = b.srv.cpuSeconds() - cpu0
	r.MBReceived = float64(received()-bytes0) / 1e6
	for _, n := range unaff {
		if n.lastUpdate.Load() >= since {
			r.UnaffectedRx++
		}
	}
	if r.Reached < r.Affected {
		b.problem("policy change: only %d of %d affected nodes received a message within %s", r.Reached, r.Affected, b.opt.phaseTimeout)
	}
	r.ObserversOK = b.checkObservers("policy change", b.nodes, 10*time.Second)
}
