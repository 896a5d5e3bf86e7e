// Command crumb-dev is the developer's tool for measuring Crumb on a
// machine: realistic data at any size and the dashboard benchmark (seed),
// ingest and writer throughput (bench), and the fault suite (faults). It is
// not part of the product; make bench and make faults run it.
//
//	crumb-dev seed [--events N --days D] [--bench]
//	crumb-dev bench [--crumb bin/crumb]
//	crumb-dev faults [--short]
package main

import (
	"fmt"
	"os"
)

func main() {
	cmds := map[string]func([]string){"seed": seedMain, "bench": benchMain, "faults": faultsMain}
	if len(os.Args) < 2 || cmds[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: crumb-dev seed|bench|faults [flags] (crumb-dev CMD --help lists the flags)")
		os.Exit(2)
	}
	cmds[os.Args[1]](os.Args[2:])
}
