package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is Main for the refval binary: the commands run under a context
// that the first SIGINT or SIGTERM cancels. The operation stops at its
// next check of the context, removes what it staged (a pull's staging
// layout, an unpack's half-written bundle, measure's temporary bundle) and
// refval exits 128+signal (130, 143), as a shell reports a death by that
// signal. A second signal kills at once, as in docker or kubectl; what
// that (or SIGKILL) leaves is removed by the next run (internal/staging).
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdin, stdout, stderr)
}

// MainContext is Main under ctx. When ctx was cancelled by a signal
// (signalContext) and the command failed, the exit code is 128+signal.
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := New(stdin, stdout, stderr)
	root.SetContext(ctx)
	code := execute(root, args, stderr)
	var sig signalCause
	if code != ExitOK && errors.As(context.Cause(ctx), &sig) {
		fmt.Fprintln(stderr, "refval:", sig)
		return 128 + int(sig.sig)
	}
	return code
}

// signalCause is the cause of a context that a signal cancelled.
type signalCause struct{ sig syscall.Signal }

func (c signalCause) Error() string { return fmt.Sprintf("stopped by signal %v", c.sig) }

// Is makes errors.Is(cause, context.Canceled) hold, as for a plain cancel.
func (c signalCause) Is(target error) bool { return target == context.Canceled }

// signalContext returns a context that the first of sigs cancels, with a
// signalCause. From then on the signals have their default effect again
// (a second one kills). stop releases the signals.
//
// signal.NotifyContext does the same but names the signal only in the
// text of its cause; the exit code needs its number.
func signalContext(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Reset(sigs...)
			n, _ := s.(syscall.Signal)
			cancel(signalCause{n})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}
