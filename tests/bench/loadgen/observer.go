package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/tailcfg"
)

// churnTable hands out unique endpoints for the churn scenario and remembers when each was
// sent, so an observer that later sees the endpoint in a peer update can time its delivery.
// Endpoint number s is 127.200.<s>>8>.<s>:<1024+s>>16>: a string in the protocol, never dialed.
type churnTable struct {
	next atomic.Uint32
	sent []atomic.Int64 // unix nanos, 0 = not sent (yet)
}

func newChurnTable(capacity int) *churnTable {
	return &churnTable{sent: make([]atomic.Int64, capacity+1)}
}

// take returns a fresh endpoint and its sequence number, or ok=false when the table is full.
func (c *churnTable) take() (netip.AddrPort, uint32, bool) {
	s := c.next.Add(1)
	if int(s) >= len(c.sent) {
		return netip.AddrPort{}, 0, false
	}
	ip := netip.AddrFrom4([4]byte{127, 200, byte(s >> 8), byte(s)})
	return netip.AddrPortFrom(ip, uint16(1024+(s>>16))), s, true
}

func (c *churnTable) markSent(s uint32, t time.Time) { c.sent[s].Store(t.UnixNano()) }

// lookup maps an endpoint back to its sequence number and send time.
func (c *churnTable) lookup(ep netip.AddrPort) (uint32, int64, bool) {
	a := ep.Addr()
	if !a.Is4() {
		return 0, 0, false
	}
	b := a.As4()
	if b[0] != 127 || b[1] != 200 || ep.Port() < 1024 {
		return 0, 0, false
	}
	s := uint32(ep.Port()-1024)<<16 | uint32(b[2])<<8 | uint32(b[3])
	if s == 0 || int(s) >= len(c.sent) {
		return 0, 0, false
	}
	t := c.sent[s].Load()
	return s, t, t != 0
}

// observer decodes every MapResponse of its node and keeps what the scenarios check: the
// peer set of the current stream and the delivery latency of churned endpoints.
type observer struct {
	churn *churnTable

	mu        sync.Mutex
	peers     map[tailcfg.NodeID]string // peer ID to host name
	selfSeen  bool
	mapPeers  int // peers in the stream's first (full) map
	seen      map[uint32]bool
	latencies []time.Duration
	decodeErr error
}

func newObserver(c *churnTable) *observer {
	return &observer{churn: c, peers: map[tailcfg.NodeID]string{}, seen: map[uint32]bool{}}
}

// newStream resets the per-stream state: a client starts every stream from nothing.
func (o *observer) newStream() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.peers = map[tailcfg.NodeID]string{}
	o.selfSeen = false
	o.mapPeers = -1
}

func (o *observer) handle(plain []byte, now time.Time, first bool) error {
	var mr tailcfg.MapResponse
	if err := json.Unmarshal(plain, &mr); err != nil {
		err = fmt.Errorf("observer: MapResponse JSON: %w", err)
		o.mu.Lock()
		o.decodeErr = err
		o.mu.Unlock()
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if first && mr.Node == nil {
		o.decodeErr = errors.New("observer: the first MapResponse of a stream lacks Node")
		return o.decodeErr
	}
	if mr.Node != nil {
		o.selfSeen = true
	}
	// The client's rules (tailcfg): a non-empty Peers replaces the set and voids the deltas.
	if len(mr.Peers) > 0 {
		o.peers = make(map[tailcfg.NodeID]string, len(mr.Peers))
		for _, p := range mr.Peers {
			o.peers[p.ID] = peerName(p)
			o.note(p.Endpoints, now)
		}
	} else {
		for _, p := range mr.PeersChanged {
			o.peers[p.ID] = peerName(p)
			o.note(p.Endpoints, now)
		}
		for _, id := range mr.PeersRemoved {
			delete(o.peers, id)
		}
		for _, pc := range mr.PeersChangedPatch {
			if pc != nil {
				o.note(pc.Endpoints, now)
			}
		}
	}
	if first {
		o.mapPeers = len(o.peers)
	}
	return nil
}

// note records the first arrival of each churned endpoint at this observer.
func (o *observer) note(eps []netip.AddrPort, now time.Time) {
	if o.churn == nil {
		return
	}
	for _, ep := range eps {
		s, sent, ok := o.churn.lookup(ep)
		if !ok || o.seen[s] {
			continue
		}
		o.seen[s] = true
		o.latencies = append(o.latencies, now.Sub(time.Unix(0, sent)))
	}
}

// peerName is the host name a simulated node registered with ("sim00042").
func peerName(p *tailcfg.Node) string {
	if p.Hostinfo.Valid() && p.Hostinfo.Hostname() != "" {
		return p.Hostinfo.Hostname()
	}
	name, _, _ := strings.Cut(p.Name, ".")
	return name
}

type observerView struct {
	peers, mapPeers int
	names           []string // the current peers' host names, sorted
	selfSeen        bool
	latencies       []time.Duration
	err             error
}

func (o *observer) view() observerView {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := make([]string, 0, len(o.peers))
	for _, n := range o.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	return observerView{
		names:     names,
		peers:     len(o.peers),
		mapPeers:  o.mapPeers,
		selfSeen:  o.selfSeen,
		latencies: append([]time.Duration(nil), o.latencies...),
		err:       o.decodeErr,
	}
}
