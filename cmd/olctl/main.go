// Command olctl is the command line of the Open Lines portal SDK: remote methods, connectivity checks, a
// ready portal receiver, the in-process connector server and the fake Bot Framework service.
package main

import (
	"os"

	"github.com/olctl/olctl/cli"
)

func main() {
	os.Exit(cli.Main())
}
