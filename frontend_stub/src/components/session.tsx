// The signed-in session (the cookie set by the sign-in pages): until when it lasts, and the
// sign-out form, which posts to the server (a plain form: the server answers with its page).
// Someone who handed a `#token=` has no session: nothing is shown. Signed out, the sign-in link.

import { useEffect, useState } from "preact/hooks";

type Session =
  | { signedIn: true; expiresAt: string; signOut: string }
  | { signedIn: false; signIn: string };

export const SESSION_PATH = "/auth/session";

export function useSession(): Session | null {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    fetch(SESSION_PATH, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal })
      .then((response) => (response.headers.get("content-type")?.includes("json") ? response.json() : null))
      .then((body: Session | null) => setSession(body && typeof body.signedIn === "boolean" ? body : null))
      .catch(() => undefined);
    return () => controller.abort();
  }, []);
  return session;
}

export function SignOut({ session }: { session: Session | null }) {
  if (!session?.signedIn) return null;
  return (
    <form method="post" action={session.signOut} class="sign-out">
      <span class="note">Session until {new Date(session.expiresAt).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" })}</span>{" "}
      <button type="submit" class="secondary">
        Sign out
      </button>
    </form>
  );
}

export function SignInLink({ session }: { session: Session | null }) {
  if (!session || session.signedIn) return null;
  return (
    <p>
      <a href={session.signIn}>Sign in</a> with your e-mail address.
    </p>
  );
}
