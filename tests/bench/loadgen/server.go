package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server runs the control server under test as a child process, so the storm scenario can
// restart it and every scenario can read its CPU time and memory from /proc.
type server struct {
	cmdline  string
	readyURL string
	logPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	// ownGroup starts the server in a process group of its own, so kill reaches every
	// process it started (the crash scenario).
	ownGroup bool
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func (s *server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// `exec` makes the shell become the server, so the pid we hold is the server's own.
	cmd := exec.Command("sh", "-c", "exec "+s.cmdline)
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.ownGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	return nil
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitReady polls the ready URL until it answers 200.
func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	return waitReady(ctx, s.readyURL, limit, s.exited, s.logPath)
}

// waitReady polls readyURL until it answers 200, giving up when exited() says the server is
// gone (its output is in logPath).
func waitReady(ctx context.Context, readyURL string, limit time.Duration, exited func() bool, logPath string) error {
	deadline := time.Now().Add(limit)
	cl := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if exited() {
			return fmt.Errorf("server exited at start (see %s)", logPath)
		}
		res, err := cl.Get(readyURL)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("server did not answer %s within %s", readyURL, limit)
}

// stop sends SIGTERM and, after a grace period, SIGKILL.
func (s *server) stop(grace time.Duration) {
	if s.cmd == nil || s.exited() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// kill SIGKILLs the server (its whole process group when it has its own) and waits for it.
func (s *server) kill() {
	if s.cmd == nil || s.exited() {
		return
	}
	if !s.ownGroup || syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// cpuSeconds is the server's user+system CPU time so far.
func (s *server) cpuSeconds() float64 { return procCPU(fmt.Sprint(s.pid())) }

// selfCPU is the generator's own CPU time: when it nears the wall time of a phase on its one
// core, the phase measured the generator rather than the server.
func selfCPU() float64 { return procCPU("self") }

func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name, which may hold spaces, start after the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// memKB returns VmRSS and VmHWM (peak RSS) in KiB.
func (s *server) memKB() (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &peak
		default:
			continue
		}
		if fs := strings.Fields(line); len(fs) >= 2 {
			*dst, _ = strconv.ParseInt(fs[1], 10, 64)
		}
	}
	return rss, peak
}

// loadAvg is the first field of /proc/loadavg, recorded with every result.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// runShell runs a helper command (the admin CLI) and returns its trimmed stdout.
func runShell(ctx context.Context, cmdline string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%q: %w", cmdline, err)
	}
	return strings.TrimSpace(string(out)), nil
}
