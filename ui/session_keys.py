"""Every st.session_state key the app reads or writes, in one place. Widget keys (key="...") are the widgets'
own and start with their page's name; these are the keys code reads directly."""

# Set by streamlit-authenticator; read here, never renamed.
AUTHENTICATION_STATUS = "authentication_status"
USERNAME = "username"
NAME = "name"
ROLES = "roles"
LOGOUT = "logout"

# Set by dashboard.py and ui/ on every run.
ACTOR = "billing_desk_actor"
READ_FLOOR = "billing_desk_read_floor"
SIGNIN_MESSAGE = "billing_desk_signin_message"
SIGN_OUT_REQUESTED = "billing_desk_sign_out_requested"
SIGNED_IN_AT = "billing_desk_signed_in_at"
FLASH = "billing_desk_flash"
PAGE_PINNED = "billing_desk_page_pinned"

# Kept by one page across its own reruns.
COLLECTIONS_PICKED = "collections_picked_customer"
COLLECTIONS_LAST_TABLE = "collections_last_table"
COLLECTIONS_TABLE_GENERATION = "collections_table_generation"
COLLECTIONS_PAYMENT_TOKEN = "collections_payment_token"
COLLECTIONS_PAYMENT_PENDING = "collections_payment_pending"
SUSPENSIONS_PENDING = "suspensions_pending"
SUSPENSIONS_REINSTATE_PENDING = "suspensions_reinstate_pending"
SUSPENSIONS_CLEAR = "suspensions_clear_widgets"
SUSPENSIONS_PICK = "suspensions_pick"
SUSPENSIONS_REASON = "suspensions_reason"
SUSPENSIONS_REINSTATE_REASON = "suspensions_reinstate_reason"
TICKETS_REPLY_TOKEN = "tickets_reply_token"
