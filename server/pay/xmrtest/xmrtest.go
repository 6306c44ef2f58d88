// Package xmrtest runs a private Monero network for tests: monerod in
// regtest mode (offline, difficulty 1) and two monero-wallet-rpc
// processes in a temporary directory, a merchant wallet that is
// view-only (made from a fresh wallet's address and view key, as a shop
// must run it) behind digest authentication, and a buyer wallet funded by
// mining. It needs Debian's monero package (monerod, monero-wallet-rpc);
// without it the test fails when CI is set and is skipped elsewhere.
package xmrtest

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"veil/server/pay"
)

// CoinbaseUnlock is how many blocks a mined reward waits before it can be
// spent (CRYPTONOTE_MINED_MONEY_UNLOCK_WINDOW).
const CoinbaseUnlock = 60

// fundBlocks funds the buyer: the coinbase unlock window, and then enough
// unlocked outputs for a few transfers and their ring members (16 each).
const fundBlocks = CoinbaseUnlock + 20

// Net is a running private network.
type Net struct {
	t testing.TB
	// MerchantURL is the merchant wallet RPC (view-only), which wants
	// MerchantUser and MerchantPassword by digest authentication.
	MerchantURL, MerchantUser, MerchantPassword string
	// MerchantAddress is the merchant's primary address.
	MerchantAddress string
	// BuyerAddress is the buyer's primary address.
	BuyerAddress string

	daemon, buyer *pay.MoneroWallet // JSON-RPC clients (monerod speaks the same envelope)
	dir           string
}

// Binaries returns the paths of monerod and monero-wallet-rpc, failing t
// in CI and skipping it elsewhere when they are missing.
func Binaries(t testing.TB) (monerod, walletRPC string) {
	t.Helper()
	d, err1 := exec.LookPath("monerod")
	w, err2 := exec.LookPath("monero-wallet-rpc")
	if err1 != nil || err2 != nil {
		const how = "no monerod / monero-wallet-rpc: install Debian's monero package (apt-get install -y monero)"
		if os.Getenv("CI") != "" {
			t.Fatal(how + "; CI must run the Monero tests")
		}
		t.Skip(how)
	}
	return d, w
}

// Start starts the network and funds the buyer; everything stops when t
// ends. ctx bounds the start-up.
func Start(ctx context.Context, t testing.TB) *Net {
	t.Helper()
	monerod, walletRPC := Binaries(t)
	n := &Net{t: t, dir: t.TempDir(), MerchantUser: "veil", MerchantPassword: "regtest-login-" + strconv.Itoa(os.Getpid())}
	ports := freePorts(t, 4)
	for _, d := range []string{"daemon", "merchant", "buyer", "ringdb"} {
		if err := os.Mkdir(filepath.Join(n.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	daemonAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	// SSL off everywhere: generating its certificates costs a wallet RPC
	// many seconds of RSA key generation at start-up.
	n.start(monerod, "daemon", "--regtest", "--offline", "--fixed-difficulty", "1",
		"--data-dir", filepath.Join(n.dir, "daemon"), "--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(ports[0]),
		"--p2p-bind-ip", "127.0.0.1", "--p2p-bind-port", strconv.Itoa(ports[1]), "--no-zmq", "--no-igd",
		"--non-interactive", "--disable-dns-checkpoints", "--check-updates", "disabled", "--rpc-ssl", "disabled",
		"--log-level", "0", "--log-file", filepath.Join(n.dir, "daemon", "monerod.log"))
	wallet := func(name string, port int, login ...string) {
		args := append([]string{"--daemon-address", daemonAddr, "--trusted-daemon", "--daemon-ssl", "disabled",
			"--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(port), "--rpc-ssl", "disabled",
			"--wallet-dir", filepath.Join(n.dir, name), "--shared-ringdb-dir", filepath.Join(n.dir, "ringdb"),
			"--non-interactive", "--log-level", "0", "--log-file", filepath.Join(n.dir, name, "wallet-rpc.log")}, login...)
		n.start(walletRPC, name, args...)
	}
	wallet("merchant", ports[2], "--rpc-login", n.MerchantUser+":"+n.MerchantPassword)
	wallet("buyer", ports[3], "--disable-rpc-login")

	n.MerchantURL = "http://127.0.0.1:" + strconv.Itoa(ports[2])
	merchant := n.client(n.MerchantURL, n.MerchantUser, n.MerchantPassword)
	n.buyer = n.client("http://127.0.0.1:"+strconv.Itoa(ports[3]), "", "")
	n.daemon = n.client("http://"+daemonAddr, "", "")
	n.waitReady(ctx, n.daemon, "get_info")
	n.waitReady(ctx, merchant, "get_version")
	n.waitReady(ctx, n.buyer, "get_version")

	// The buyer's wallet is made and funded while the merchant's is set
	// up: both are mostly waiting on key derivation and mining.
	funded := make(chan error, 1)
	go func() {
		var addr struct {
			Address string `json:"address"`
		}
		err := n.buyer.Call(ctx, "create_wallet", map[string]any{"filename": "buyer", "password": "", "language": "English"}, nil)
		if err == nil {
			err = n.buyer.Call(ctx, "get_address", map[string]any{"account_index": 0}, &addr)
		}
		if err == nil {
			n.BuyerAddress = addr.Address
			err = n.daemon.Call(ctx, "generateblocks", map[string]any{"amount_of_blocks": fundBlocks, "wallet_address": addr.Address}, nil)
		}
		if err == nil {
			err = n.buyer.Call(ctx, "refresh", nil, nil)
		}
		funded <- err
	}()

	// The merchant's wallet: a full wallet made only to take its address
	// and view key, then replaced by a view-only wallet from them.
	var addr struct {
		Address string `json:"address"`
	}
	var key struct {
		Key string `json:"key"`
	}
	var gen struct {
		Address string `json:"address"`
	}
	err := merchant.Call(ctx, "create_wallet", map[string]any{"filename": "source", "password": "", "language": "English"}, nil)
	if err == nil {
		err = merchant.Call(ctx, "get_address", map[string]any{"account_index": 0}, &addr)
	}
	if err == nil {
		err = merchant.Call(ctx, "query_key", map[string]any{"key_type": "view_key"}, &key)
	}
	if err == nil {
		err = merchant.Call(ctx, "close_wallet", nil, nil)
	}
	if err == nil {
		err = merchant.Call(ctx, "generate_from_keys", map[string]any{
			"filename": "merchant", "address": addr.Address, "viewkey": key.Key, "password": "", "restore_height": 0,
		}, &gen)
	}
	if ferr := <-funded; err == nil {
		err = ferr
	}
	if err != nil {
		n.dumpLogs()
		t.Fatalf("xmrtest: setting up the wallets: %v", err)
	}
	if gen.Address != addr.Address {
		t.Fatalf("xmrtest: view-only wallet has address %s, want %s", gen.Address, addr.Address)
	}
	n.MerchantAddress = addr.Address
	return n
}

// Mine adds blocks, their rewards to the buyer.
func (n *Net) Mine(ctx context.Context, blocks int) {
	n.t.Helper()
	n.must(ctx, n.daemon, "generateblocks", map[string]any{"amount_of_blocks": blocks, "wallet_address": n.BuyerAddress}, nil)
}

// Pay sends atomic piconero from the buyer to address and returns the
// transaction id. The transaction is in the pool until the next Mine.
func (n *Net) Pay(ctx context.Context, address string, atomic uint64) string {
	n.t.Helper()
	n.must(ctx, n.buyer, "refresh", nil, nil)
	var r struct {
		TxHash string `json:"tx_hash"`
	}
	n.must(ctx, n.buyer, "transfer", map[string]any{
		"destinations":  []map[string]any{{"amount": atomic, "address": address}},
		"account_index": 0, "priority": 0,
	}, &r)
	if r.TxHash == "" {
		n.t.Fatal("xmrtest: transfer without a transaction id")
	}
	return r.TxHash
}

func (n *Net) client(url, user, pass string) *pay.MoneroWallet {
	n.t.Helper()
	// Wallet creation and mining can take a while on a busy machine.
	w, err := pay.NewMoneroWallet(pay.MoneroWalletConfig{URL: url, Username: user, Password: pass, Client: &http.Client{Timeout: 2 * time.Minute}})
	if err != nil {
		n.t.Fatal(err)
	}
	return w
}

func (n *Net) must(ctx context.Context, w *pay.MoneroWallet, method string, params, result any) {
	n.t.Helper()
	if err := w.Call(ctx, method, params, result); err != nil {
		n.dumpLogs()
		n.t.Fatalf("xmrtest: %s: %v", method, err)
	}
}

// waitReady polls until the RPC answers (each process takes a few
// seconds to open its database and bind), bounded by ctx.
func (n *Net) waitReady(ctx context.Context, w *pay.MoneroWallet, method string) {
	n.t.Helper()
	for {
		err := w.Call(ctx, method, nil, nil)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			n.dumpLogs()
			n.t.Fatalf("xmrtest: %s never answered: %v", method, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Net) start(bin, name string, args ...string) {
	n.t.Helper()
	out, err := os.Create(filepath.Join(n.dir, name+".out"))
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("xmrtest: start %s: %v", name, err)
	}
	n.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
}

func (n *Net) dumpLogs() {
	for _, name := range []string{"daemon", "merchant", "buyer"} {
		b, _ := os.ReadFile(filepath.Join(n.dir, name+".out"))
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		n.t.Logf("%s output (tail):\n%s", name, bytes.TrimSpace(b))
	}
}

// freePorts finds k ports free on 127.0.0.1 at the time of asking.
func freePorts(t testing.TB, k int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
