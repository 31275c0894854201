package main

// The company policy of the policy scenario: a deterministic tailnet shaped like a company
// (users with 1-3 devices, about 10% tagged servers over 100 tags, 50 department groups,
// 500 ACL lines) and the policy both servers enforce, before and after one change. The same
// nodes and seed always give the same files. `hs-loadgen policy-gen` writes them for
// hs-policy-bench; the policy scenario builds the same company in memory.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	companyDepts     = 50  // groups: group:dept00 .. group:dept49
	companyTags      = 100 // tag:svc00 .. tag:svc99
	companyLines     = 500 // acls lines in each policy
	companyTeamLines = 350 // at most this many of them are team lines
	companyTeamPeers = 20  // a team holds about this many devices
	// tagOwner is the user that owns every tag, and the tagged pre-auth keys. It has no devices.
	tagOwner = "infra"
)

// companyNode is one device: owned by a user (User >= 0) or tagged (User = -1, Tags set).
type companyNode struct {
	User int
	Tags []string
}

type aclLine struct {
	Action string   `json:"action"`
	Src    []string `json:"src"`
	Dst    []string `json:"dst"`
}

type policyDoc struct {
	Groups    map[string][]string `json:"groups"`
	TagOwners map[string][]string `json:"tagOwners"`
	ACLs      []aclLine           `json:"acls"`
}

// company is the generated tailnet and its two policies. Node i of the load generator is
// Nodes[i].
type company struct {
	Seed    uint64
	Users   []string // user names; aliases are name + "@"
	Nodes   []companyNode
	Dept    []int // department of each user
	Before  policyDoc
	After   policyDoc
	TagSets [][]string // the distinct tag sets of the tagged nodes
	// Expected peers of each node under each policy (node indexes, ascending).
	PeersBefore, PeersAfter [][]int
}

func userName(u int) string { return fmt.Sprintf("u%05d", u) }
func deptName(d int) string { return fmt.Sprintf("group:dept%02d", d) }
func tagName(t int) string  { return fmt.Sprintf("tag:svc%02d", t) }

// newCompany builds the company for n nodes. The change between Before and After swaps the
// servers every department may reach (department k reaches tag:svc<k>, then tag:svc<k+50>):
// from about 1,000 nodes on (each tag then has a server), it changes the peers of every node.
func newCompany(n int, seed uint64) *company {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &company{Seed: seed}
	tagged := n / 10
	userDevices := n - tagged
	// Users own 1-3 devices each, in order, until the user devices are handed out; tagged
	// nodes are spread evenly among them.
	var owner []int
	for len(owner) < userDevices {
		u := len(c.Users)
		c.Users = append(c.Users, userName(u))
		for k := 1 + rng.IntN(3); k > 0 && len(owner) < userDevices; k-- {
			owner = append(owner, u)
		}
	}
	users := len(c.Users)
	seenSets := map[string]bool{}
	ui, ti := 0, 0
	for i := 0; i < n; i++ {
		// Every tenth node is a tagged server.
		if (i+1)%10 == 0 {
			tags := []string{tagName(ti % companyTags)}
			if ti%5 == 4 {
				tags = append(tags, tagName((ti+37)%companyTags))
			}
			slices.Sort(tags)
			c.Nodes = append(c.Nodes, companyNode{User: -1, Tags: tags})
			if k := strings.Join(tags, ","); !seenSets[k] {
				seenSets[k] = true
				c.TagSets = append(c.TagSets, tags)
			}
			ti++
			continue
		}
		c.Nodes = append(c.Nodes, companyNode{User: owner[ui]})
		ui++
	}
	// Departments are contiguous blocks of users; teams are smaller contiguous blocks of about
	// companyTeamPeers devices, at most companyTeamLines of them.
	c.Dept = make([]int, users)
	groups := map[string][]string{}
	for u := range users {
		c.Dept[u] = u * companyDepts / users
		groups[deptName(c.Dept[u])] = append(groups[deptName(c.Dept[u])], c.Users[u]+"@")
	}
	for d := range companyDepts {
		if groups[deptName(d)] == nil {
			groups[deptName(d)] = []string{}
		}
	}
	teamDevices := max(min(companyTeamPeers, userDevices/3), (userDevices+companyTeamLines-1)/companyTeamLines)
	var teams [][]int // users of each team
	var cur []int
	devs := 0
	perUser := make([]int, users)
	for _, u := range owner {
		perUser[u]++
	}
	for u := range users {
		cur = append(cur, u)
		devs += perUser[u]
		if devs >= teamDevices {
			teams = append(teams, cur)
			cur, devs = nil, 0
		}
	}
	if len(cur) > 0 {
		teams = append(teams, cur)
	}
	owners := map[string][]string{}
	for t := range companyTags {
		owners[tagName(t)] = []string{tagOwner + "@"}
	}
	var common []aclLine
	// Team lines: a team's users reach each other's devices.
	for _, team := range teams {
		var src, dst []string
		for _, u := range team {
			src = append(src, c.Users[u]+"@")
			dst = append(dst, c.Users[u]+"@:*")
		}
		common = append(common, aclLine{"accept", src, dst})
	}
	// Service lines: each service talks to the next one's database port.
	for t := range companyTags {
		common = append(common, aclLine{"accept", []string{tagName(t)}, []string{tagName((t+1)%companyTags) + ":5432"}})
	}
	// Filler, as real policies have: more ports between members of one team, which change
	// no node's peers.
	for k := 0; len(common)+companyDepts < companyLines; k++ {
		team := teams[k%len(teams)]
		a, b := team[rng.IntN(len(team))], team[rng.IntN(len(team))]
		port := []string{"22", "80,443", "3389", "8080-8090", "5900"}[k%5]
		common = append(common, aclLine{"accept", []string{c.Users[a] + "@"}, []string{c.Users[b] + "@:" + port}})
	}
	dept := func(shift int) []aclLine {
		var lines []aclLine
		for d := range companyDepts {
			lines = append(lines, aclLine{"accept", []string{deptName(d)}, []string{tagName((d+shift)%companyTags) + ":22,443"}})
		}
		return lines
	}
	// The department lines come first, as a company's broad rules usually do.
	c.Before = policyDoc{groups, owners, append(dept(0), common...)}
	c.After = policyDoc{groups, owners, append(dept(companyDepts), common...)}
	c.PeersBefore = c.expectedPeers(&c.Before)
	c.PeersAfter = c.expectedPeers(&c.After)
	return c
}

// members lists the nodes an alias (without its ports) stands for in this company.
func (c *company) members(p *policyDoc, alias string) []int {
	var out []int
	switch {
	case strings.HasPrefix(alias, "group:"):
		for _, m := range p.Groups[alias] {
			out = append(out, c.members(p, m)...)
		}
	case strings.HasPrefix(alias, "tag:"):
		for i, nd := range c.Nodes {
			if slices.Contains(nd.Tags, alias) {
				out = append(out, i)
			}
		}
	case strings.HasSuffix(alias, "@"):
		name := strings.TrimSuffix(alias, "@")
		for i, nd := range c.Nodes {
			if nd.User >= 0 && c.Users[nd.User] == name {
				out = append(out, i)
			}
		}
	default:
		panic("policygen: alias " + alias)
	}
	return out
}

// expectedPeers is Tailscale's visibility rule for this policy: a node sees another when a
// line lets either reach the other (and never itself).
func (c *company) expectedPeers(p *policyDoc) [][]int {
	// Aliases are resolved once; users by an index for speed.
	byUser := map[string][]int{}
	for i, nd := range c.Nodes {
		if nd.User >= 0 {
			byUser[c.Users[nd.User]+"@"] = append(byUser[c.Users[nd.User]+"@"], i)
		}
	}
	cache := map[string][]int{}
	resolve := func(alias string) []int {
		// Drop the ports of a destination: "u00001@:*", "tag:svc01:5432".
		if j := strings.Index(alias, "@:"); j > 0 {
			alias = alias[:j+1]
		} else if strings.Count(alias, ":") == 2 {
			alias = alias[:strings.LastIndex(alias, ":")]
		}
		if r, ok := cache[alias]; ok {
			return r
		}
		var r []int
		if strings.HasSuffix(alias, "@") {
			r = byUser[alias]
		} else if strings.HasPrefix(alias, "group:") {
			for _, m := range p.Groups[alias] {
				r = append(r, byUser[m]...)
			}
		} else {
			r = c.members(p, alias)
		}
		cache[alias] = r
		return r
	}
	sets := make([]map[int]bool, len(c.Nodes))
	for i := range sets {
		sets[i] = map[int]bool{}
	}
	for _, l := range p.ACLs {
		var src, dst []int
		for _, a := range l.Src {
			src = append(src, resolve(a)...)
		}
		for _, a := range l.Dst {
			dst = append(dst, resolve(a)...)
		}
		for _, s := range src {
			for _, d := range dst {
				if s != d {
					sets[s][d] = true
					sets[d][s] = true
				}
			}
		}
	}
	out := make([][]int, len(c.Nodes))
	for i, s := range sets {
		for j := range s {
			out[i] = append(out[i], j)
		}
		slices.Sort(out[i])
	}
	return out
}

// changed lists the nodes whose peers differ between the two policies.
func (c *company) changed() []int {
	var out []int
	for i := range c.Nodes {
		if !slices.Equal(c.PeersBefore[i], c.PeersAfter[i]) {
			out = append(out, i)
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeTopology writes the nodes for hs-policy-bench, one per line:
// "user ID NAME" for each user (IDs from 1), then "node ID USER_ID|- TAG,TAG|-".
func (c *company) writeTopology(path string) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# hs-loadgen policy-gen: %d users, %d nodes, seed %d\n", len(c.Users), len(c.Nodes), c.Seed)
	for u, name := range c.Users {
		fmt.Fprintf(&sb, "user %d %s\n", u+1, name)
	}
	fmt.Fprintf(&sb, "user %d %s\n", len(c.Users)+1, tagOwner)
	for i, nd := range c.Nodes {
		user, tags := "-", "-"
		if nd.User >= 0 {
			user = fmt.Sprint(nd.User + 1)
		} else {
			tags = strings.Join(nd.Tags, ",")
		}
		fmt.Fprintf(&sb, "node %d %s %s\n", i+1, user, tags)
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// peerStats is the median and largest expected peer count.
func peerStats(peers [][]int) (int, int) {
	counts := make([]int, len(peers))
	for i, p := range peers {
		counts[i] = len(p)
	}
	return median(counts), slices.Max(counts)
}

// policyGenCmd: hs-loadgen policy-gen --nodes N [--seed S] --out DIR writes DIR/policy.json,
// DIR/policy-after.json, DIR/topology.txt and DIR/summary.json.
func policyGenCmd(args []string) error {
	fs := flag.NewFlagSet("policy-gen", flag.ContinueOnError)
	n := fs.Int("nodes", 2000, "nodes in the tailnet")
	seed := fs.Uint64("seed", 1, "seed: the same nodes and seed give the same files")
	out := fs.String("out", "", "directory to write into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *n < 2 {
		return errors.New("--out is required and --nodes must be at least 2")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	c := newCompany(*n, *seed)
	if err := writeJSON(filepath.Join(*out, "policy.json"), c.Before); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(*out, "policy-after.json"), c.After); err != nil {
		return err
	}
	if err := c.writeTopology(filepath.Join(*out, "topology.txt")); err != nil {
		return err
	}
	return writeJSON(filepath.Join(*out, "summary.json"), c.summary())
}

type companySummary struct {
	Nodes         int `json:"nodes"`
	Users         int `json:"users"`
	Tagged        int `json:"tagged"`
	TagSets       int `json:"tag_sets"`
	Groups        int `json:"groups"`
	ACLLines      int `json:"acl_lines"`
	PeersP50      int `json:"expected_peers_p50"`
	PeersMax      int `json:"expected_peers_max"`
	PeersAfterP50 int `json:"expected_peers_after_p50"`
	PeersAfterMax int `json:"expected_peers_after_max"`
	Changed       int `json:"nodes_changed_by_the_change"`
}

func (c *company) summary() companySummary {
	s := companySummary{Nodes: len(c.Nodes), Users: len(c.Users), TagSets: len(c.TagSets),
		Groups: len(c.Before.Groups), ACLLines: len(c.Before.ACLs), Changed: len(c.changed())}
	for _, nd := range c.Nodes {
		if nd.User < 0 {
			s.Tagged++
		}
	}
	s.PeersP50, s.PeersMax = peerStats(c.PeersBefore)
	s.PeersAfterP50, s.PeersAfterMax = peerStats(c.PeersAfter)
	return s
}
