// Command hello is the program inside refval's demo image: it prints a
// greeting, its arguments and the VAL variable, so that a run shows which
// options it was started with.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("hello from the refval demo image: args=%q VAL=%q\n", os.Args[1:], os.Getenv("VAL"))
}
