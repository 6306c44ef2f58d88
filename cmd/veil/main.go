// Command veil runs the shop: demo, init, serve, audit verify.
//
// Exit status: 0 on success, 2 on bad usage, 1 otherwise; errors go to
// stderr as one line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage:
  veil demo    [--addr 127.0.0.1:8080] [--data DIR]
  veil init    --data DIR --owner NAME --password-file FILE --passphrase-file FILE [--json]
  veil serve   --data DIR [--addr ADDR] [--passphrase-file FILE] [--payments LIST]
               [--epay-pid ID --epay-key-file FILE --epay-gateway URL] [--epay-type TYPE]
               [--epusdt-url URL --epusdt-token-file FILE]
               [--monero-wallet-rpc URL] [--monero-rpc-login-file FILE] [--monero-confirmations N]
               [--public-url URL] [--manual-instructions-file FILE] [--rate-limit N] [--behind-tls] [--trust-proxy] [--tor]
               (--payments LIST: a comma list of demo, epay, epusdt, monero, manual; the first is the
               default and the buyer picks any; monero needs --monero-wallet-rpc, a view-only wallet)
               (--payments epay requires --public-url: the gateway calls back at absolute URLs;
               so does epusdt)
  veil backup  --data DIR --out FILE --passphrase-file FILE   (age-encrypted, signed by the vault)
  veil restore --in FILE --data DIR --identity-file FILE [--fingerprint "ab12 cd34 …"]
  veil audit verify --data DIR
  veil purge   --data DIR [--dry-run]
  veil notice  --data DIR --passphrase-file FILE --text-file FILE
  veil verify-notice --in FILE|- [--fingerprint "ab12 cd34 …"]
  veil verify-receipt --in FILE|- [--fingerprint "ab12 cd34 …"] [--key KEY [--item N]]
  veil bench   [--concurrency 1,16,64] [--purchases N] [--import N] [--rss-keys N]
  veil resale account --data DIR --passphrase-file FILE --name NAME --recipient AGE1… [--currency CNY] [--percent-off N]
  veil resale topup   --data DIR --passphrase-file FILE --key-id RK --amount MINOR
  veil resale source  --data DIR --passphrase-file FILE --product SLUG --upstream-url URL --key-id RK
                      --upstream-product ID --secret-file FILE --identity-file FILE   (docking, 对接; shop stopped)

Every flag has an env twin: --data is VEIL_DATA, --epay-key-file is VEIL_EPAY_KEY_FILE.
`

// usageError is bad usage: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	privateUmask()
	spareProcs()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(stderr, "veil: "+msg)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("a command is required: demo, init, serve or audit verify (veil help)")
	}
	switch args[0] {
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "init":
		return cmdInit(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			return usagef("usage: veil audit verify --data DIR")
		}
		return cmdAuditVerify(args[2:], stdout)
	case "backup":
		return cmdBackup(args[1:], stdout)
	case "restore":
		return cmdRestore(args[1:], stdout)
	case "notice":
		return cmdNotice(args[1:], stdout)
	case "verify-notice":
		return cmdVerifyNotice(args[1:], os.Stdin, stdout)
	case "verify-receipt":
		return cmdVerifyReceipt(args[1:], os.Stdin, stdout)
	case "purge":
		return cmdPurge(args[1:], stdout, stderr)
	case "resale":
		return cmdResale(args[1:], stdout)
	case "bench":
		return cmdBench(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		return flag.ErrHelp
	}
	return usagef("unknown command %q (veil help)", args[0])
}

// newFlags returns a flag set whose errors are returned, not printed.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from its env twin (VEIL_ + upper snake case of the flag name).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "VEIL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s: %v", env, e)
			}
		}
	})
	return err
}

// readSecretFile reads a one-line secret (password, passphrase, key).
func readSecretFile(flagName, path string) (string, error) {
	if path == "" {
		return "", usagef("--%s is required", flagName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read --%s: %w", flagName, err)
	}
	if len(b) > 4096 {
		return "", fmt.Errorf("--%s: file larger than 4 KiB", flagName)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("--%s: file is empty", flagName)
	}
	return s, nil
}
