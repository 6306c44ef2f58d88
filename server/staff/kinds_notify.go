package staff

// KindNotifySettings changes the merchant notifications: the Telegram bot
// token and chat id, the webhook URL and secret, the events per channel and
// the low-stock thresholds. Its params hold secrets only sealed.
const KindNotifySettings Kind = "notify_settings"

func init() { RegisterKind(KindNotifySettings, RoleOwner, false) }
