package console

// registerExecutors connects each approval kind to the domain operation it
// runs. An executor runs inside the transaction that records the approval,
// so approving and doing are one commit.
func (s *Server) registerExecutors() {
	// Each feature adds its kinds here (payments, console, after-sales).
	s.registerPaymentExecutors()    // payment_confirm (payments.go)
	s.registerConsoleExecutors()    // refunds, exports, deletions, settings (admin_ops.go)
	s.registerAfterSalesExecutors() // replacements, recalls (admin_remedies.go)
	s.registerOwedExecutor()        // payment_return (admin_owed.go)
	s.registerProductExecutors()    // product price and policy changes (admin_products.go)
	s.registerGoodwillExecutors()   // compensation keys, unfreezes, the freeze rule (admin_goodwill.go)
	s.registerCaseExecutor()        // case_publish (cases.go)
	s.registerCommerceExecutors()   // compensation vouchers, orders exports (commerce.go)
}
