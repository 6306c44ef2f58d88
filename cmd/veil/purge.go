package main

import (
	"fmt"
	"io"
	"log/slog"
)

// cmdPurge removes orders whose retention ended (the server also does this
// in the background); --dry-run lists them without removing anything.
func cmdPurge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("purge")
	data := fs.String("data", "", "data directory")
	dry := fs.Bool("dry-run", false, "list what would go, change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	last := -1
	res, err := a.shop.Purge(*dry, func(done, total int) {
		if pct := done * 100 / total; pct/10 != last/10 || done == total {
			last = pct
			fmt.Fprintf(stderr, "\rpurging: %d/%d (%d%%)", done, total, pct)
			if done == total {
				fmt.Fprintln(stderr)
			}
		}
	})
	if err != nil {
		return err
	}
	if *dry {
		fmt.Fprintf(stdout, "%d orders would be purged", res.Due)
		if res.Due > 0 {
			fmt.Fprint(stdout, ":")
		}
		fmt.Fprintln(stdout)
		for _, ref := range res.Refs {
			fmt.Fprintf(stdout, "  %s\n", ref)
		}
		if res.Due > len(res.Refs) {
			fmt.Fprintf(stdout, "  … and %d more\n", res.Due-len(res.Refs))
		}
		return nil
	}
	fmt.Fprintf(stdout, "%d orders purged\n", res.Purged)
	return nil
}
