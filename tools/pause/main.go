// pause: the process of a pod sandbox on the test node (containerd's sandbox_image). It holds the pod's namespaces,
// reaps the zombies of its PID namespace when it is PID 1 there, and exits on SIGTERM or SIGINT, as Kubernetes'
// build/pause/linux/pause.c does (that one is C; this is built by tools/build-toolchain.sh with the Go toolchain).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
