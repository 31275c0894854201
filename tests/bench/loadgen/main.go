// Command hs-loadgen simulates many Tailscale nodes against one control server and measures
// it: register, connect, churn, join and storm (see tests/bench/README.md). It prints one JSON
// result on stdout; progress and problems go to stderr.
//
//	hs-loadgen run --url URL --server-cmd CMD --ready-url URL --key-cmd CMD --nodes N ...
//	hs-loadgen run --external --url URL --key-cmd CMD --nodes N ...   (a server already running)
//	hs-loadgen report --out docs/benchmarks.md --plots docs/bench RESULT.json...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tailscale.com/control/tsp"
	"tailscale.com/net/tsdial"
	"tailscale.com/tailcfg"
	"tailscale.com/types/logger"
)

type options struct {
	label, version, serverURL, serverCmd, readyURL, keyCmd, logPath string
	external                                                        bool
	nodes, observers, concurrency, joins, capver                    int
	churnRate                                                       float64
	churnDuration, churnGrace, phaseTimeout, settle, deadline, hold time.Duration
	registerLimit                                                   time.Duration
	scenarios                                                       map[string]bool
	// The policy scenario.
	policyPath, userKeyCmd, tagKeyCmd string
	seed                              uint64
	spreadSources                     bool
	// The crash scenario.
	killAt        []int
	killBurst     bool
	restartExited bool
	singleKeyCmd  string
}

type registerResult struct {
	OK             int     `json:"ok"`
	Failed         int     `json:"failed"`
	Seconds        float64 `json:"seconds"`
	NodesPerSecond float64 `json:"nodes_per_second"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	FirstError     string  `json:"first_error,omitempty"`
}

type connectResult struct {
	NodesWithMap int     `json:"nodes_with_map"`
	Seconds      float64 `json:"seconds"`
	MapBytesP50  int64   `json:"map_bytes_p50"`
	PeersOK      bool    `json:"peers_ok"`
	rssFigures
	GeneratorCPU float64 `json:"generator_cpu_seconds"`
}

// rssFigures is the server's memory after a phase: nil (null) with --external, as is every
// figure read from the server's process.
type rssFigures struct {
	RSSKB        *int64   `json:"rss_kb"`
	RSSPerNodeKB *float64 `json:"rss_per_node_kb"`
}

type churnResult struct {
	Rate             float64  `json:"rate_per_second"`
	DurationSeconds  float64  `json:"duration_seconds"`
	Updates          int      `json:"updates"`
	SendErrors       int      `json:"send_errors"`
	Expected         int      `json:"expected_deliveries"`
	Delivered        int      `json:"delivered"`
	P50ms            float64  `json:"p50_ms"`
	P90ms            float64  `json:"p90_ms"`
	P99ms            float64  `json:"p99_ms"`
	MaxMs            float64  `json:"max_ms"`
	ServerCPUPercent *float64 `json:"server_cpu_percent"`
	// What the server sent all nodes during the period, and the generator's own CPU use: near
	// 100% of its core means the latencies include the generator's queueing.
	ReceivedMBps        float64 `json:"received_mb_per_second"`
	GeneratorCPUPercent float64 `json:"generator_cpu_percent"`
}

type joinResult struct {
	Joins         int     `json:"joins"`
	Failed        int     `json:"failed"`
	P50ms         float64 `json:"p50_ms"`
	MaxMs         float64 `json:"max_ms"`
	RegisterP50ms float64 `json:"register_p50_ms"`
	PeersOK       bool    `json:"peers_ok"`
}

type stormResult struct {
	Expected     int     `json:"expected_nodes"`
	NodesWithMap int     `json:"nodes_with_map"`
	Seconds      float64 `json:"seconds"`
	ReadySeconds float64 `json:"ready_seconds"`
	StopSeconds  float64 `json:"stop_seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSKB    int64   `json:"peak_rss_kb"`
	PeersOK      bool    `json:"peers_ok"`
	GeneratorCPU float64 `json:"generator_cpu_seconds"`
	// When the median node had its map back, and how many map requests failed on the way
	// (each failure costs that node a 100 ms-1 s backoff).
	P50Seconds     float64 `json:"p50_seconds"`
	StreamFailures int64   `json:"stream_failures"`
}

type result struct {
	Server     string          `json:"server"`
	External   bool            `json:"external,omitempty"`
	Version    string          `json:"version"`
	Nodes      int             `json:"nodes"`
	Observers  int             `json:"observers"`
	Capver     int             `json:"capver"`
	Started    time.Time       `json:"started"`
	LoadBefore float64         `json:"loadavg_before"`
	LoadAfter  float64         `json:"loadavg_after"`
	Register   *registerResult `json:"register,omitempty"`
	Connect    *connectResult  `json:"connect,omitempty"`
	Churn      *churnResult    `json:"churn,omitempty"`
	Join       *joinResult     `json:"join,omitempty"`
	Storm      *stormResult    `json:"storm,omitempty"`
	Scale      *scaleResult    `json:"scale,omitempty"`
	Company    *companyResult  `json:"policy,omitempty"`
	Crash      *crashResult    `json:"crash,omitempty"`
	Problems   []string        `json:"problems"`
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] hs-loadgen: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hs-loadgen run|report|scale-report|policy-gen|policy-report [flags] (see -h of each)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "scale-report":
		err = scaleReportCmd(os.Args[2:])
	case "policy-gen":
		err = policyGenCmd(os.Args[2:])
	case "policy-report":
		err = policyReportCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want run, report, scale-report, policy-gen or policy-report)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hs-loadgen:", err)
		os.Exit(1)
	}
}

func parseRun(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.label, "label", "server", "name of the server in the result (hs, headscale)")
	fs.StringVar(&o.version, "version", "", "version of the server, recorded in the result")
	fs.StringVar(&o.serverURL, "url", "", "control server URL (http://127.0.0.1:PORT)")
	fs.StringVar(&o.serverCmd, "server-cmd", "", "shell command that runs the server in the foreground")
	fs.BoolVar(&o.external, "external", false, "the server is already running at --url (e.g. instances behind a load balancer; its tailnet empty): not started or stopped, no server CPU or memory figures (null), no storm, crash or policy")
	fs.StringVar(&o.readyURL, "ready-url", "", "URL that answers 200 once the server is up (optional with --external)")
	fs.StringVar(&o.keyCmd, "key-cmd", "", "shell command that prints a reusable pre-auth key (run once the server is up)")
	fs.StringVar(&o.logPath, "server-log", "server.log", "file the server's output is appended to")
	fs.IntVar(&o.nodes, "nodes", 100, "simulated nodes")
	fs.IntVar(&o.observers, "observers", 5, "nodes that decode every frame (the rest only count)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "registrations in flight at once")
	fs.IntVar(&o.joins, "joins", 3, "nodes added one by one in the join scenario")
	fs.IntVar(&o.capver, "capver", int(tailcfg.CurrentCapabilityVersion), "capability version the nodes announce")
	fs.Float64Var(&o.churnRate, "churn-rate", 10, "endpoint changes per second in the churn scenario")
	fs.DurationVar(&o.churnDuration, "churn-duration", 60*time.Second, "length of the churn scenario")
	fs.DurationVar(&o.churnGrace, "churn-grace", 10*time.Second, "how long late churn deliveries are waited for")
	fs.DurationVar(&o.phaseTimeout, "phase-timeout", 300*time.Second, "bound on each waiting phase")
	fs.DurationVar(&o.deadline, "deadline", time.Hour, "bound on the whole run; what is done by then is still reported")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "pause before memory is read after connect")
	fs.DurationVar(&o.hold, "hold", 60*time.Second, "scale: how long all nodes stay connected before they are counted")
	fs.DurationVar(&o.registerLimit, "register-limit", 25*time.Minute, "scale: bound on registering; maps and the hold come after it")
	fs.StringVar(&o.policyPath, "policy", "", "policy scenario: the policy file the server reads; the company's policy is written there before the server starts")
	fs.Uint64Var(&o.seed, "seed", 1, "policy scenario: seed of the company")
	fs.StringVar(&o.userKeyCmd, "user-key-cmd", "", "policy scenario: shell command that creates user {user} and prints a reusable pre-auth key of it")
	fs.StringVar(&o.tagKeyCmd, "tag-key-cmd", "", "policy scenario: shell command that prints a reusable pre-auth key for tags {tags} (comma-separated; owner {user})")
	fs.BoolVar(&o.spreadSources, "spread-sources", false, "each node connects from its own loopback address (127.1.x.y), as real nodes come from their own addresses, instead of all from 127.0.0.1")
	killAt := fs.String("kill-at", "60,150,240", "crash: SIGKILL the server when this many nodes are registered (comma-separated, ascending)")
	fs.BoolVar(&o.killBurst, "kill-burst", true, "crash: one more SIGKILL once the retries after the last restart fill the workers")
	fs.BoolVar(&o.restartExited, "restart-exited", false, "crash: restart the server whenever it exits on its own (a crash point of hs-control-fault), for the whole phase")
	fs.StringVar(&o.singleKeyCmd, "single-use-key-cmd", "", "crash: shell command that prints a single-use pre-auth key, run once for each even-numbered node, which registers with it")
	scen := fs.String("scenarios", "", "scenarios to run, in this order; or scale or crash alone (default register,connect,churn,join,storm; with --policy register,connect,policy,storm)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *scen == "" {
		*scen = "register,connect,churn,join,storm"
		if o.external {
			*scen = "register,connect,churn,join"
		}
		if o.policyPath != "" {
			*scen = "register,connect,policy,storm"
		}
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(*scen, ",") {
		switch s {
		case "crash":
			o.scenarios[s] = true
		case "policy", "churn", "join", "scale":
			if (s == "policy") != (o.policyPath != "") {
				return o, fmt.Errorf("scenario %q and --policy go together only as policy (churn, join and scale expect every node to see every other)", s)
			}
			o.scenarios[s] = true
		case "register", "connect", "storm":
			o.scenarios[s] = true
		default:
			return o, fmt.Errorf("unknown scenario %q", s)
		}
	}
	if *killAt != "" {
		for _, f := range strings.Split(*killAt, ",") {
			k, err := strconv.Atoi(f)
			if err != nil || k < 1 || (len(o.killAt) > 0 && k <= o.killAt[len(o.killAt)-1]) {
				return o, fmt.Errorf("--kill-at %q: want ascending positive counts", *killAt)
			}
			o.killAt = append(o.killAt, k)
		}
	}
	if o.external {
		if err := checkExternal(o); err != nil {
			return o, err
		}
	}
	switch {
	case o.scenarios["crash"] && (len(o.scenarios) > 1 || o.policyPath != ""):
		return o, errors.New("scenario crash runs alone, without --policy")
	case o.serverURL == "":
		return o, errors.New("--url is required")
	case !o.external && (o.serverCmd == "" || o.readyURL == ""):
		return o, errors.New("--server-cmd and --ready-url are required (or --external)")
	case o.policyPath == "" && o.keyCmd == "":
		return o, errors.New("--key-cmd is required")
	case o.policyPath != "" && (o.userKeyCmd == "" || o.tagKeyCmd == ""):
		return o, errors.New("--policy needs --user-key-cmd and --tag-key-cmd")
	case o.nodes < 2:
		return o, errors.New("--nodes must be at least 2")
	case o.observers < 1 || o.observers > o.nodes:
		return o, errors.New("--observers must be between 1 and --nodes")
	case o.concurrency < 1 || o.churnRate <= 0 || o.churnDuration <= 0:
		return o, errors.New("--concurrency, --churn-rate and --churn-duration must be positive")
	case o.capver < 1 || o.capver > 65535:
		return o, errors.New("--capver must fit the 16-bit protocol version")
	}
	return o, nil
}

func runCmd(args []string) error {
	o, err := parseRun(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancelDeadline := context.WithTimeout(ctx, o.deadline)
	defer cancelDeadline()
	res := &result{Server: o.label, External: o.external, Version: o.version, Nodes: o.nodes, Observers: o.observers,
		Capver: o.capver, Started: time.Now().UTC(), LoadBefore: loadAvg(), Problems: []string{}}
	var co *company
	if o.policyPath != "" {
		co = newCompany(o.nodes, o.seed)
		res.Company = &companyResult{Seed: o.seed, Shape: co.summary()}
		if err := writePolicy(o.policyPath, &co.Before); err != nil {
			return err
		}
	}
	srv, err := startServer(ctx, o)
	if err != nil {
		return err
	}
	if srv != nil {
		defer srv.stop(30 * time.Second)
	}
	var authKey string
	if co == nil {
		authKey, err = runShell(ctx, o.keyCmd)
		if err != nil {
			return err
		}
		if authKey == "" {
			return errors.New("--key-cmd printed no key")
		}
	}
	serverKey, err := tsp.DiscoverServerKey(ctx, o.serverURL)
	if err != nil {
		return err
	}
	e := &env{
		serverURL: o.serverURL,
		serverKey: serverKey,
		capver:    tailcfg.CapabilityVersion(o.capver),
		authKey:   authKey,
		dialer:    tsdial.NewFromFuncForDebug(logger.Discard, dialRetryRefused(serverHostPort(o.serverURL), nil)),
		server:    serverHostPort(o.serverURL),
		spread:    o.spreadSources,
		churn:     newChurnTable(int(o.churnRate*o.churnDuration.Seconds()) + 16),
	}
	runCtx, cancel := context.WithCancel(ctx)
	b := &bench{opt: o, e: e, srv: srv, res: res, runCtx: runCtx, co: co}
	if co != nil {
		logf("%s: policy: %d users, %d tag sets: making their keys", o.label, len(co.Users), len(co.TagSets))
		err = b.makeCompanyKeys(ctx)
		logf("%s: policy: %d keys in %.1fs", o.label, res.Company.Keys, res.Company.KeysSeconds)
	}
	if err == nil {
		err = b.scenarios(ctx)
	}
	cancel()
	for _, n := range b.nodes {
		n.nc.Close()
	}
	b.wg.Wait()
	res.LoadAfter = loadAvg()
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	return err
}

// dialRetryRefused dials TCP and retries refused connections to the server's own address
// until ctx ends. The ts2021 dialer (tailscale.com/control/controlhttp) has no HTTPS fallback
// for an http:// loopback URL, and after a failed plain-HTTP attempt it waits for its whole
// 10 s timeout instead of returning; without this, every node that redials in the instant the
// server is down would add 10 s to the storm measurement that neither server causes.
// Other addresses (controlhttp's port 443 fallback, tried when the plain-HTTP upgrade was
// refused, e.g. by a 429) are dialed once, so the refusal comes back at once, as it does to a
// real client, instead of holding the node for those 10 s.
//
// local, when set, is the source address of every connection.
func dialRetryRefused(server string, local net.Addr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: local}
		for {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || addr != server {
				return c, err
			}
			select {
			case <-ctx.Done():
				return nil, err
			case <-time.After(50*time.Millisecond + time.Duration(rand.Int64N(int64(100*time.Millisecond)))):
			}
		}
	}
}

// startServer starts the server and waits until it is ready; with --external it only waits
// (when --ready-url is given) and returns nil.
func startServer(ctx context.Context, o options) (*server, error) {
	if o.external {
		if o.readyURL == "" {
			return nil, nil
		}
		return nil, waitReady(ctx, o.readyURL, 60*time.Second, func() bool { return false }, "")
	}
	srv := &server{cmdline: o.serverCmd, readyURL: o.readyURL, logPath: o.logPath, ownGroup: o.scenarios["crash"]}
	if err := srv.start(); err != nil {
		return nil, err
	}
	if err := srv.waitReady(ctx, 60*time.Second); err != nil {
		srv.stop(30 * time.Second)
		return nil, err
	}
	return srv, nil
}

// serverHostPort is the host:port the server URL names (without one, the scheme's port: an
// external server may be a load balancer on https://NAME).
func serverHostPort(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if pu.Port() == "" {
		port := "80"
		if pu.Scheme == "https" {
			port = "443"
		}
		return net.JoinHostPort(pu.Hostname(), port)
	}
	return pu.Host
}

func (b *bench) scenarios(ctx context.Context) error {
	o := b.opt
	if o.scenarios["crash"] {
		logf("%s: crash: registering %d nodes, SIGKILL at %v (burst %v)", o.label, o.nodes, o.killAt, o.killBurst)
		err := b.crash(ctx)
		if b.res.Crash != nil {
			logf("%s: crash: %s", o.label, b.res.Crash)
		}
		return err
	}
	if o.scenarios["scale"] {
		logf("%s: scale: growing to %d nodes, each streaming once registered", o.label, o.nodes)
		err := b.scale(ctx)
		if b.res.Scale != nil {
			logf("%s: scale: %s", o.label, b.res.Scale)
		}
		return err
	}
	logf("%s: registering %d nodes", o.label, o.nodes)
	if err := b.registerAll(ctx); err != nil {
		return err
	}
	logf("%s: register %.1f nodes/s", o.label, b.res.Register.NodesPerSecond)
	if ctx.Err() != nil {
		b.problem("run stopped during register: %v", ctx.Err())
		return ctx.Err()
	}
	b.connect()
	logf("%s: connect: %d nodes have maps after %.2fs", o.label, b.res.Connect.NodesWithMap, b.res.Connect.Seconds)
	for _, s := range []string{"churn", "join", "policy", "storm"} {
		if ctx.Err() != nil {
			b.problem("run stopped before %s: %v", s, ctx.Err())
			break
		}
		if !o.scenarios[s] {
			continue
		}
		logf("%s: %s", o.label, s)
		switch s {
		case "churn":
			b.churn(ctx)
		case "join":
			b.join(ctx)
		case "policy":
			b.policyChange(ctx)
			if c := b.res.Company.Change; c != nil {
				logf("%s: policy change reached %d of %d nodes in %.3fs (p50 %.3fs), server CPU %.2fs", o.label, c.Reached, c.Affected, c.Seconds, c.P50Seconds, c.CPUSeconds)
			}
		case "storm":
			b.storm(ctx)
		}
	}
	return ctx.Err()
}
