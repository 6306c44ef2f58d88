package main

import (
	"fmt"
	"io"
	"log/slog"

	"veil/server/staff"
)

func cmdAuditVerify(args []string, stdout io.Writer) error {
	fs := newFlags("audit verify")
	data := fs.String("data", "", "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := staff.VerifyAudit(a.db)
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("audit log broken at entry %d of %d: %s", res.FirstBad, res.Entries, res.Reason)
	}
	fmt.Fprintf(stdout, "audit log intact: %d entries\n", res.Entries)
	return nil
}
