// Package crypto is veil's cryptography: order tokens and what is derived
// from them, age identities and sealing, envelope encryption of inventory,
// the merchant's passphrase-sealed vault, and licence-key normalisation.
// It does no I/O beyond crypto/rand and imports nothing else of veil.
//
// Which function for what:
//
//   - A buyer places an order: [NewToken] makes the token, shown to the buyer
//     once via [Token.String]. Store [Token.LookupKey] as the order's record
//     key, the order recipient (t.Identity(DefaultKind) → [Identity.Recipient])
//     and show staff [Token.Ref]. Store nothing else derived from the token.
//   - A buyer comes back: [ParseToken] (tolerant of case, dashes, I/L/O; a
//     typo is [ErrTokenMalformed], not "unknown order"), then
//     [Token.LookupKey] to find the order.
//   - A payment lands (no token at hand): [ParseRecipient] on the stored
//     order recipient, then [Seal] the delivered keys to it.
//   - First retrieval: [Token.Identity] and [Open]; then re-[Seal] the payload
//     to NewSymmetricRecipient(t.RetrievalKey()) so that later retrievals
//     [Open] it cheaply with [NewSymmetricIdentity].
//   - Chat and ticket threads: [Seal] to the order recipient and the vault's
//     Support recipient.
//   - Inventory import: [NormalizeKey] each key, [Vault.Fingerprint] it to
//     catch duplicates, then one [NewDataKey] per import, stored via
//     [DataKey.Seal] to the Inventory recipient, and [DataKey.SealItem] per
//     key. To sell a key: [OpenDataKey], [DataKey.OpenItem], [DataKey.Wipe].
//   - Set-up and unlock: [NewVault], [Vault.Seal] with the passphrase; store
//     [Vault.Public] in the clear so sealing works while locked; on unlock
//     [OpenVault] ([ErrWrongPassphrase] for a wrong passphrase).
//   - Backups: [NewBackupWriter] (sealed to the Backup recipient, signed by
//     [Vault.BackupSignKey]); restore with [VerifyBackup], then [OpenBackup].
//   - Delivery receipts: [SignReceipt] with the vault's notice key, one
//     [ReceiptCommitment] per delivered key; buyers check them with
//     [VerifyReceipt] and [Receipt.Match].
//   - Record IDs: [RandomID].
//
// Keys are age keys of [DefaultKind] (post-quantum [Hybrid]) unless a stored
// recipient says otherwise; age refuses to mix hybrid and [X25519]
// recipients in one file. Tokens, identities, data keys and the vault redact
// themselves in logs (slog.LogValuer or String), but never pass them to a
// logger or an error message in the first place.
package crypto
