package resale_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"veil/crypto"
	"veil/server/resale"
)

// A reseller's script: list the products, buy one with an idempotency key
// (safe to send again after a timeout), open the sealed keys with the
// account's age identity.
func ExampleClient() {
	c := &resale.Client{
		BaseURL: "https://upstream.example",
		KeyID:   "rk_0123456789abcdefghjk",
		Secret:  os.Getenv("VEIL_RESELLER_SECRET"), // rs_…, shown once by the upstream
	}
	id, err := crypto.ParseIdentity(os.Getenv("VEIL_RESELLER_IDENTITY")) // AGE-SECRET-KEY-…
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	products, err := c.Products(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range products {
		fmt.Println(p.Slug, p.AgentMinor, p.Currency, p.Available)
	}
	o, _, err := c.PlaceOrder(ctx, resale.OrderRequest{Product: "game", Quantity: 1}, "my-order-0001")
	var refused *resale.Error
	if errors.As(err, &refused) && refused.Code == "insufficient_balance" {
		log.Fatal("top up first")
	} else if err != nil {
		log.Fatal(err) // a timeout: send the same request with the same key again
	}
	for _, d := range o.Deliveries {
		items, err := resale.OpenDelivery(d, id)
		if err != nil {
			log.Fatal(err)
		}
		for _, it := range items {
			fmt.Println(it.ID, it.Key)
		}
	}
}
