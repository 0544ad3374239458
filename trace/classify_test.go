//go:build linux

package trace_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pipeloop/pipeloop/trace"
)

// A wait is attributed to the pipe its fd holds at that wait: an fd closed
// and reopened on another pipe between two waits of the same thread
// counts the second wait on the new pipe. The shell reads FIFO a and then
// FIFO b on its fd 0; b's struct file may even take the address a's had
// (freed in between), so a classification cached by fd, or by fd and file
// pointer alone, would put b's wait on a.
func TestReopenedFdAttributedToNewPipe(t *testing.T) {
	tr := newTracer(t, trace.Options{})
	dir := t.TempDir()
	names := []string{"a", "b"}
	inos := make([]uint64, len(names))
	for i, name := range names {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		inos[i] = st.Ino
	}
	sh := startGated(t, "read x <"+filepath.Join(dir, "a")+"; read y <"+filepath.Join(dir, "b"))
	if err := tr.Watch(sh.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	const blocked = 50 * time.Millisecond
	wrote := make(chan error, 1)
	go func() {
		for _, name := range names {
			// Opening blocks until the shell opens its end; the shell
			// then waits in read until the line comes.
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
			if err != nil {
				wrote <- err
				return
			}
			time.Sleep(blocked)
			_, err = f.WriteString("x\n")
			f.Close()
			if err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	sh.run(t)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	rep, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for i, ino := range inos {
		rec, err := find(rep, sh.cmd.Process.Pid, ino, trace.DirRead)
		if err != nil || rec.Count < 1 || rec.Total < blocked*8/10 {
			t.Errorf("read wait on FIFO %s (inode %d) = %+v, %v; want at least 1 wait of about %v\nrecords: %+v",
				names[i], ino, rec, err, blocked, rep.Records)
		}
	}
}
