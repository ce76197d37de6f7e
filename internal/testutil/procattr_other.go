//go:build !linux

package testutil

import "os/exec"

// setProcAttr has nothing to add outside Linux: there is no parent-death
// signal, and the cleanup registered by StartCollector is the only guard.
func setProcAttr(*exec.Cmd) {}
