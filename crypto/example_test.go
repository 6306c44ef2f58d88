package crypto_test

import (
	"errors"
	"fmt"
	"log"

	"veil/crypto"
)

func ExampleParseToken() {
	// People type tokens in any case, with or without dashes, and confuse
	// O with 0 and I or L with 1; all of these parse to the same token.
	a, _ := crypto.ParseToken("000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G")
	b, _ := crypto.ParseToken("ooog 4or4 om3o e2o9 i85g r38e lw8i 24gk g")
	fmt.Println(a == b, a)

	// A typo is caught by the check symbol, so the shop can say "check
	// your token" rather than "no such order".
	_, err := crypto.ParseToken("000G-40R4-0M30-E209-185G-R38E-1W81-24KG-G")
	fmt.Println(errors.Is(err, crypto.ErrTokenMalformed))
	// Output:
	// true 000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G
	// true
}

func ExampleToken_Ref() {
	tok, _ := crypto.ParseToken("000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G")
	// The reference is safe to log and show to staff; the token is not.
	fmt.Println(tok.Ref())
	// Output: R-AP9CG67C
}

func ExampleSeal() {
	// At checkout: derive the order identity and store only its recipient.
	tok, err := crypto.NewToken()
	if err != nil {
		log.Fatal(err)
	}
	order, err := tok.Identity(crypto.DefaultKind)
	if err != nil {
		log.Fatal(err)
	}
	stored := order.Recipient()

	// When the payment lands, without the token: seal to the stored recipient.
	r, err := crypto.ParseRecipient(stored)
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := crypto.Seal([]byte("LICENCE-KEY-1234"), r)
	if err != nil {
		log.Fatal(err)
	}

	// When the buyer comes back with the token.
	id, err := tok.Identity(crypto.DefaultKind)
	if err != nil {
		log.Fatal(err)
	}
	key, err := crypto.Open(sealed, id.Age())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", key)

	// On that first retrieval, re-seal for cheap later retrievals.
	fast, err := crypto.Seal(key, crypto.NewSymmetricRecipient(tok.RetrievalKey()))
	if err != nil {
		log.Fatal(err)
	}
	again, err := crypto.Open(fast, crypto.NewSymmetricIdentity(tok.RetrievalKey()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", again)
	// Output:
	// LICENCE-KEY-1234
	// LICENCE-KEY-1234
}

func ExampleDataKey_SealItem() {
	inventory, err := crypto.NewIdentity(crypto.DefaultKind)
	if err != nil {
		log.Fatal(err)
	}

	// One data key per import, stored sealed to the inventory recipient.
	dk, err := crypto.NewDataKey()
	if err != nil {
		log.Fatal(err)
	}
	sealedKey, err := dk.Seal(inventory.AgeRecipient())
	if err != nil {
		log.Fatal(err)
	}
	item, err := dk.SealItem("itm_1", []byte("AAAA-BBBB-CCCC"))
	if err != nil {
		log.Fatal(err)
	}
	dk.Wipe()

	// At sale time, with the unlocked vault's inventory identity.
	dk, err = crypto.OpenDataKey(sealedKey, inventory.Age())
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Wipe()
	key, err := dk.OpenItem("itm_1", item)
	fmt.Printf("%s %v\n", key, err)

	// The ciphertext is bound to its item ID.
	_, err = dk.OpenItem("itm_2", item)
	fmt.Println(errors.Is(err, crypto.ErrItemOpen))
	// Output:
	// AAAA-BBBB-CCCC <nil>
	// true
}

func ExampleOpenVault() {
	v, err := crypto.NewVault(crypto.DefaultKind)
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := v.Seal("a long unlock passphrase")
	if err != nil {
		log.Fatal(err)
	}
	_, err = crypto.OpenVault(sealed, "a wrong passphrase")
	fmt.Println(errors.Is(err, crypto.ErrWrongPassphrase))

	v2, err := crypto.OpenVault(sealed, "a long unlock passphrase")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v2.Public() == v.Public())
	// Output:
	// true
	// true
}

func ExampleNormalizeKey() {
	k, err := crypto.NormalizeKey("\uFEFF  AbCd-1234 \r\n")
	fmt.Printf("%q %v\n", k, err)
	_, err = crypto.NormalizeKey("AB\tCD")
	fmt.Println(err)
	// Output:
	// "AbCd-1234" <nil>
	// crypto: licence key contains a control or invalid character
}
