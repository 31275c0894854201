package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"tailscale.com/control/ts2021"
	"tailscale.com/net/tsdial"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
	"tailscale.com/util/zstdframe"
)

// env is what every simulated node shares: where the server is and how to reach it.
type env struct {
	serverURL string
	serverKey key.MachinePublic
	capver    tailcfg.CapabilityVersion
	authKey   string
	dialer    *tsdial.Dialer
	server    string // host:port of the server
	spread    bool   // each node dials from its own loopback address
	churn     *churnTable
}

// node is one simulated device. Counting nodes only time and count the frames they receive,
// so thousands fit beside the server on a small machine; observers decode every frame.
type node struct {
	idx   int
	name  string
	mk    key.MachinePrivate
	nk    key.NodePrivate
	disco key.DiscoPublic
	hi    *tailcfg.Hostinfo
	nc    *ts2021.Client
	obs   *observer // nil for a counting node
	// The policy scenario: the node's own pre-auth key, and whether the node decodes the
	// first full map of each stream to keep its peers' names.
	authKey    string
	decodeFull bool
	mapPeers   atomic.Pointer[[]string] // host names of the peers in the latest full map, sorted
	lastUpdate atomic.Int64             // unix nanos of the latest frame that was not a keepalive

	lastMap  atomic.Int64 // unix nanos at which the current stream's full map arrived
	mapBytes atomic.Int64 // compressed size of that map
	frames   atomic.Int64
	bytes    atomic.Int64 // compressed map bytes received, all streams
	endpoint atomic.Value // netip.AddrPort the node reports now; a new stream repeats it
	streams  atomic.Int64
	live     atomic.Bool // a map stream is open
	failures atomic.Int64
	lastErr  atomic.Value // string
}

// nodeName is the host name of simulated node idx.
func nodeName(idx int) string { return fmt.Sprintf("sim%05d", idx) }

// keepAliveJSON is what a server sends when it has nothing else to say.
const keepAliveJSON = `{"KeepAlive":true}`

// maxFrame bounds one map frame; a larger length prefix means a broken stream.
const maxFrame = 64 << 20

func newNode(e *env, idx int, observe bool) (*node, error) {
	n := &node{
		idx:   idx,
		name:  nodeName(idx),
		mk:    key.NewMachine(),
		nk:    key.NewNode(),
		disco: key.NewDisco().Public(),
	}
	n.hi = &tailcfg.Hostinfo{
		Hostname:   n.name,
		OS:         "linux",
		IPNVersion: "hs-loadgen",
		GoArch:     "amd64",
		NetInfo:    &tailcfg.NetInfo{PreferredDERP: 900, WorkingUDP: "true"},
	}
	if observe {
		n.obs = newObserver(e.churn)
	}
	// The same ts2021 dialer and HTTP/2 transport tailscaled uses, so the server sees exactly
	// what a real client sends. It dials lazily and redials after the server restarts.
	nc, err := ts2021.NewClient(ts2021.ClientOpts{
		ServerURL:       e.serverURL,
		PrivKey:         n.mk,
		ServerPubKey:    e.serverKey,
		Dialer:          n.dialer(e),
		Logf:            logger.Discard,
		ProtocolVersion: uint16(e.capver),
	})
	if err != nil {
		return nil, err
	}
	n.nc = nc
	return n, nil
}

// dialer is the shared one, or with spread sources one whose connections come from the
// node's own address, 127.1.<idx/256>.<idx%256> (any 127/8 address is the loopback's).
func (n *node) dialer(e *env) *tsdial.Dialer {
	if !e.spread {
		return e.dialer
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(n.idx>>8), byte(n.idx))}
	return tsdial.NewFromFuncForDebug(logger.Discard, dialRetryRefused(e.server, local))
}

func (n *node) fail(err error) {
	n.failures.Add(1)
	n.lastErr.Store(err.Error())
	if debug {
		logf("%s: %v", n.name, err)
	}
}

// debug (HS_LOADGEN_DEBUG=1) logs every node's stream errors.
var debug = os.Getenv("HS_LOADGEN_DEBUG") == "1"

func (n *node) post(ctx context.Context, path string, body any) (*http.Response, error) {
	res, err := n.nc.DoWithBody(ctx, "POST", path, n.nk.Public(), body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 300))
		res.Body.Close()
		return nil, fmt.Errorf("%s: http %d: %s", path, res.StatusCode, msg)
	}
	return res, nil
}

// register logs the node in with the pre-auth key, as `tailscale up --auth-key` does.
func (n *node) register(ctx context.Context, e *env) error {
	req := tailcfg.RegisterRequest{
		Version:  e.capver,
		NodeKey:  n.nk.Public(),
		Hostinfo: n.hi,
		Auth:     &tailcfg.RegisterResponseAuth{AuthKey: cmp.Or(n.authKey, e.authKey)},
	}
	res, err := n.post(ctx, "/machine/register", req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var rr tailcfg.RegisterResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&rr); err != nil {
		return fmt.Errorf("register response: %w", err)
	}
	if rr.Error != "" {
		return fmt.Errorf("register refused: %s", rr.Error)
	}
	if !rr.MachineAuthorized || rr.AuthURL != "" {
		return errors.New("register: node not authorized by the pre-auth key")
	}
	return nil
}

// initialEndpoint is a loopback address string the node reports; nobody ever dials it.
func (n *node) initialEndpoint() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 100, byte(n.idx >> 8), byte(n.idx)}), 41641)
}

func (n *node) mapRequest(e *env, stream bool, ep netip.AddrPort) tailcfg.MapRequest {
	return tailcfg.MapRequest{
		Version:       e.capver,
		Compress:      "zstd",
		KeepAlive:     true,
		NodeKey:       n.nk.Public(),
		DiscoKey:      n.disco,
		Endpoints:     []netip.AddrPort{ep},
		EndpointTypes: []tailcfg.EndpointType{tailcfg.EndpointLocal},
		Hostinfo:      n.hi,
		Stream:        stream,
		OmitPeers:     !stream,
	}
}

// run keeps one streaming map session open until ctx ends, reconnecting with a short capped
// backoff when the server goes away (the storm scenario restarts it).
func (n *node) run(ctx context.Context, e *env) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		got, err := n.stream(ctx, e)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.fail(err)
		}
		if got {
			backoff = 100 * time.Millisecond
		}
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// stream runs one map session; it reports whether a full map arrived on it.
func (n *node) stream(ctx context.Context, e *env) (bool, error) {
	t0 := time.Now()
	ep, ok := n.endpoint.Load().(netip.AddrPort)
	if !ok {
		ep = n.initialEndpoint()
	}
	res, err := n.post(ctx, "/machine/map", n.mapRequest(e, true, ep))
	if debug {
		logf("%s: map request answered after %s (err %v)", n.name, time.Since(t0), err)
	}
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	n.streams.Add(1)
	n.live.Store(true)
	defer n.live.Store(false)
	if n.obs != nil {
		n.obs.newStream()
	}
	var hdr [4]byte
	var buf, plain []byte
	gotMap := false
	for {
		if _, err := io.ReadFull(res.Body, hdr[:]); err != nil {
			return gotMap, fmt.Errorf("map stream: %w", err)
		}
		size := binary.LittleEndian.Uint32(hdr[:])
		if size > maxFrame {
			return gotMap, fmt.Errorf("map frame of %d bytes", size)
		}
		now := time.Now()
		keepAlive := false
		if n.obs != nil || size < 64 || (n.decodeFull && !gotMap) {
			// Observers decode everything; counting nodes only decode frames small enough to
			// be keepalives, which must not count as the map or as an update (and, in the
			// policy scenario, the full map, for its peers).
			if cap(buf) < int(size) {
				buf = make([]byte, size)
			}
			buf = buf[:size]
			if _, err := io.ReadFull(res.Body, buf); err != nil {
				return gotMap, fmt.Errorf("map frame: %w", err)
			}
			plain, err = zstdframe.AppendDecode(plain[:0], buf)
			if err != nil {
				return gotMap, fmt.Errorf("map frame zstd: %w", err)
			}
			keepAlive = string(plain) == keepAliveJSON
			if n.decodeFull && !gotMap && !keepAlive {
				names, err := mapPeerNames(plain)
				if err != nil {
					return gotMap, err
				}
				n.mapPeers.Store(&names)
			}
			if n.obs != nil && !keepAlive {
				if err := n.obs.handle(plain, now, !gotMap); err != nil {
					return gotMap, err
				}
			}
		} else if _, err := io.CopyN(io.Discard, res.Body, int64(size)); err != nil {
			return gotMap, fmt.Errorf("map frame: %w", err)
		}
		n.frames.Add(1)
		n.bytes.Add(int64(size) + 4)
		if !keepAlive {
			n.lastUpdate.Store(now.UnixNano())
		}
		if !gotMap && !keepAlive {
			gotMap = true
			n.mapBytes.Store(int64(size))
			n.lastMap.Store(now.UnixNano())
		}
	}
}

// sendEndpoint is the "lite" update a client sends when its endpoints change.
func (n *node) sendEndpoint(ctx context.Context, e *env, ep netip.AddrPort) error {
	res, err := n.post(ctx, "/machine/map", n.mapRequest(e, false, ep))
	if err != nil {
		return err
	}
	n.endpoint.Store(ep)
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

// mapSince reports whether the node received a full map at or after t.
func (n *node) mapSince(t time.Time) bool { return n.lastMap.Load() >= t.UnixNano() }

// mapPeerNames decodes only the peers' names of a full MapResponse.
func mapPeerNames(plain []byte) ([]string, error) {
	// Only the fields peerName reads, which keeps thousands of decodes cheap.
	var mr struct {
		Peers []struct {
			Name     string
			Hostinfo *struct{ Hostname string }
		}
	}
	if err := json.Unmarshal(plain, &mr); err != nil {
		return nil, fmt.Errorf("full map JSON: %w", err)
	}
	names := make([]string, len(mr.Peers))
	for i, p := range mr.Peers {
		if p.Hostinfo != nil && p.Hostinfo.Hostname != "" {
			names[i] = p.Hostinfo.Hostname
		} else {
			names[i], _, _ = strings.Cut(p.Name, ".")
		}
	}
	slices.Sort(names)
	return names, nil
}
