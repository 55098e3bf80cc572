// Command genman writes olctl's man pages into the directory it is given (make man):
//
//	go run ./internal/genman DIR
package main

import (
	"fmt"
	"os"

	"github.com/olctl/olctl/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genman DIR")
		os.Exit(2)
	}
	if err := cli.ManPages(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}
