"""Every session-state key the app sets itself, in one place (streamlit-authenticator keeps its own)."""

ACTOR = "billing_desk_actor"
SIGNIN_MESSAGE = "billing_desk_signin_message"
SIGN_OUT_REQUESTED = "billing_desk_sign_out_requested"
SIGNED_IN_AT = "billing_desk_signed_in_at"
USERS_ONE_TIME_PASSWORD = "billing_desk_users_one_time_password"
READ_FLOOR = "billing_desk_read_floor"
