/**
 * Every string the client shows, in Spanish and English. Pure data and
 * lookups: no DOM access, so it runs under `deno test`.
 */

import type { ErrorCode } from "../protocol/messages.ts";

export const LANGS = ["es", "en"] as const;
export type Lang = typeof LANGS[number];

/** localStorage key for the user's explicit language choice. */
export const LANG_STORAGE_KEY = "chat.lang";

const EN = {
  appName: "Chat",
  roomLabel: "Room",
  langLabel: "Language",
  langEs: "Español",
  langEn: "English",
  renameButton: "Change name",
  renameTitle: "Change your name",
  renameLabel: "New name",
  renameSubmit: "Save",
  renameCancel: "Cancel",
  notConnected: "Not connected. Try again when the connection is back.",
  messagesLabel: "Messages",
  membersHeading: "Online",
  membersToggle: "Show people online",
  membersListLabel: "People online",
  onlineCount: "{n} online",
  moreMembers: "Loading more…",
  historyStart: "This is the start of the room.",
  charsLeft: "{n} characters left",
  mentionSuggestions: "People to mention",
  tooLong: "{n} characters too long",
  nameKept:
    "Someone here already uses “{wanted}”: you are {name} for now. Use “Change name” to pick another.",
  you: "(you)",
  composerLabel: "Message",
  composerPlaceholder: "Write a message…",
  send: "Send",
  typingOne: "{name} is typing…",
  typingTwo: "{a} and {b} are typing…",
  typingMany: "Several people are typing…",
  statusConnecting: "Connecting…",
  statusConnected: "Connected",
  statusReconnectingIn: "Reconnecting in {s} s…",
  statusReconnecting: "Connection lost. Reconnecting…",
  statusUnreachable: "Can't reach the server. Is it running?",
  statusReplaced:
    "This session was opened in another tab or window. Press “Retry now” to use it here.",
  statusStopped: "Disconnected",
  retryNow: "Retry now",
  joined: "{name} joined",
  left: "{name} left",
  joinedSeveral: "{names} joined",
  leftSeveral: "{names} left",
  newDivider: "New",
  privateRoom: "Private room",
  newPrivateRoom: "New private room",
  editFailed: "Edit",
  editFailedLabel: "Put this message back in the box to change it",
  alertsHeading: "When someone mentions me",
  alertSound: "Play a sound",
  alertNotify: "Show a notification",
  nameEmpty: "Type a name.",
  nameTooLong: "At most {max} characters; this one has {n}.",
  nameOneLine: "A name is one line: no tabs or line breaks.",
  nameBadChar:
    "“{char}” can't be in a name: letters, digits, spaces and . _ - only.",
  nameMarks: "Accents and marks go after a letter, at most two on one.",
  renameWait: "You changed your name a moment ago: try again in {s} s.",
  emptyRoomTitle: "You're the first one here — share this link",
  copyLink: "Copy link",
  linkCopied: "Copied",
  qrLabel: "QR code of this room's address",
  newMessages: "New messages ↓ {n}",
  otherOne: "{n} other",
  otherMany: "{n} others",
  joinedCount: "{n} people joined",
  leftCount: "{n} people left",
  renamed: "{from} is now {to}",
  gapMarker: "Some messages may be missing",
  sending: "sending…",
  sent: "sent",
  failed: "failed —",
  retry: "retry",
  discard: "discard",
  retryLabel: "Retry sending this message",
  discardLabel: "Discard this message",
  error_bad_json: "The server could not read a message from this app.",
  error_bad_message: "The server rejected a malformed message.",
  error_unknown_type: "The server did not understand a request.",
  error_frame_too_large: "That message is too large to send.",
  error_hello_required: "The connection was not set up correctly.",
  error_already_joined: "This connection has already joined a room.",
  error_room_invalid:
    "This room name is not valid. Use letters, digits, “-” or “_”.",
  error_text_empty: "The message is empty.",
  error_text_too_long: "The message is too long.",
  error_name_empty: "The name can't be empty.",
  error_name_too_long: "The name is too long.",
  error_name_invalid: "The name contains characters that aren't allowed.",
  error_name_reserved: "That name is reserved.",
  error_name_taken: "Someone in this room already uses that name.",
  error_rate_limited: "You're going too fast. Wait a moment and try again.",
  error_server_error: "Something went wrong on the server.",
  error_store_unavailable:
    "The server can't store messages right now. Yours will be sent as soon as it can.",
  error_not_allowed: "You can't do that here.",
  error_not_found: "That message is no longer kept.",
  error_edit_window_passed:
    "Messages can only be edited for 15 minutes after sending.",
  error_muted: "A moderator muted you for now.",
  error_kicked: "A moderator removed you from this room for a while.",
  error_room_locked: "This room is locked: nobody new may join right now.",
  error_moderator_key_invalid:
    "That moderator link no longer works. Ask for a new one.",
  edited: "(edited)",
  messageDeleted: "Message deleted",
  messageRemoved: "Message removed by a moderator",
  editMessage: "Edit",
  deleteMessage: "Delete",
  editMessageLabel: "Edit this message",
  deleteMessageLabel: "Delete this message",
  deleteConfirm: "Delete this message for everyone?",
  editing: "Editing a message",
  cancelEdit: "Cancel",
  muteMember: "Mute 10 min",
  kickMember: "Remove 10 min",
  muteMemberLabel: "Mute {name} for 10 minutes",
  kickMemberLabel: "Remove {name} from the room for 10 minutes",
  moderatorBadge: "Moderator",
  moderatorMenu: "Moderate",
  lockRoom: "Lock room",
  unlockRoom: "Unlock room",
  exportText: "Export as text",
  exportJson: "Export as JSON",
  lockedBadge: "Locked",
  mutedNotice: "{by} muted {name} for {n} min",
  unmutedNotice: "{by} unmuted {name}",
  kickedNotice: "{by} removed {name} from the room for {n} min",
  unkickedNotice: "{by} let {name} back in",
  lockedNotice: "{by} locked the room: nobody new may join",
  unlockedNotice: "{by} unlocked the room",
  clearedNotice: "{by} cleared the room's history",
  liftMute: "Unmute",
  liftKick: "Let back in",
  clearRoom: "Clear history",
  clearConfirm: "Delete every message of this room, for everyone?",
  statusKicked: "A moderator removed you from this room.",
  statusLocked: "This room is locked: nobody new may join right now.",
};

export type MessageKey = keyof typeof EN;

const ES: Record<MessageKey, string> = {
  appName: "Chat",
  roomLabel: "Sala",
  langLabel: "Idioma",
  langEs: "Español",
  langEn: "English",
  renameButton: "Cambiar nombre",
  renameTitle: "Cambia tu nombre",
  renameLabel: "Nuevo nombre",
  renameSubmit: "Guardar",
  renameCancel: "Cancelar",
  notConnected: "Sin conexión. Inténtalo cuando vuelva la conexión.",
  messagesLabel: "Mensajes",
  membersHeading: "En línea",
  membersToggle: "Mostrar personas en línea",
  membersListLabel: "Personas en línea",
  onlineCount: "{n} en línea",
  moreMembers: "Cargando más…",
  historyStart: "Este es el comienzo de la sala.",
  charsLeft: "Quedan {n} caracteres",
  mentionSuggestions: "Personas a mencionar",
  tooLong: "Sobran {n} caracteres",
  nameKept:
    "Alguien aquí ya usa «{wanted}»: por ahora eres {name}. Usa «Cambiar nombre» para elegir otro.",
  you: "(tú)",
  composerLabel: "Mensaje",
  composerPlaceholder: "Escribe un mensaje…",
  send: "Enviar",
  typingOne: "{name} está escribiendo…",
  typingTwo: "{a} y {b} están escribiendo…",
  typingMany: "Varias personas están escribiendo…",
  statusConnecting: "Conectando…",
  statusConnected: "Conectado",
  statusReconnectingIn: "Reconectando en {s} s…",
  statusReconnecting: "Se perdió la conexión. Reconectando…",
  statusUnreachable: "No se puede conectar con el servidor. ¿Está en marcha?",
  statusReplaced:
    "Esta sesión se abrió en otra pestaña o ventana. Pulsa «Reintentar ahora» para usarla aquí.",
  statusStopped: "Desconectado",
  retryNow: "Reintentar ahora",
  joined: "{name} se unió",
  left: "{name} salió",
  joinedSeveral: "{names} se unieron",
  leftSeveral: "{names} salieron",
  newDivider: "Nuevos",
  privateRoom: "Sala privada",
  newPrivateRoom: "Nueva sala privada",
  editFailed: "Editar",
  editFailedLabel: "Devolver este mensaje al cuadro para cambiarlo",
  alertsHeading: "Cuando alguien me mencione",
  alertSound: "Reproducir un sonido",
  alertNotify: "Mostrar una notificación",
  nameEmpty: "Escribe un nombre.",
  nameTooLong: "Como máximo {max} caracteres; este tiene {n}.",
  nameOneLine: "Un nombre es una sola línea: sin tabulaciones ni saltos.",
  nameBadChar:
    "«{char}» no puede ir en un nombre: solo letras, números, espacios y . _ -",
  nameMarks: "Los acentos y marcas van tras una letra, como mucho dos.",
  renameWait: "Cambiaste de nombre hace un momento: prueba en {s} s.",
  emptyRoomTitle: "Eres la primera persona aquí: comparte este enlace",
  copyLink: "Copiar enlace",
  linkCopied: "Copiado",
  qrLabel: "Código QR de la dirección de esta sala",
  newMessages: "Mensajes nuevos ↓ {n}",
  otherOne: "{n} más",
  otherMany: "{n} más",
  joinedCount: "{n} personas se unieron",
  leftCount: "{n} personas salieron",
  renamed: "{from} ahora es {to}",
  gapMarker: "Puede que falten algunos mensajes",
  sending: "enviando…",
  sent: "enviado",
  failed: "falló —",
  retry: "reintentar",
  discard: "descartar",
  retryLabel: "Reintentar el envío de este mensaje",
  discardLabel: "Descartar este mensaje",
  error_bad_json: "El servidor no pudo leer un mensaje de esta aplicación.",
  error_bad_message: "El servidor rechazó un mensaje mal formado.",
  error_unknown_type: "El servidor no entendió una petición.",
  error_frame_too_large: "Ese mensaje es demasiado grande para enviarlo.",
  error_hello_required: "La conexión no se estableció correctamente.",
  error_already_joined: "Esta conexión ya se unió a una sala.",
  error_room_invalid:
    "El nombre de la sala no es válido. Usa letras, dígitos, «-» o «_».",
  error_text_empty: "El mensaje está vacío.",
  error_text_too_long: "El mensaje es demasiado largo.",
  error_name_empty: "El nombre no puede estar vacío.",
  error_name_too_long: "El nombre es demasiado largo.",
  error_name_invalid: "El nombre contiene caracteres no permitidos.",
  error_name_reserved: "Ese nombre está reservado.",
  error_name_taken: "Alguien en esta sala ya usa ese nombre.",
  error_rate_limited: "Vas demasiado rápido. Espera un momento y reinténtalo.",
  error_server_error: "Algo salió mal en el servidor.",
  error_store_unavailable:
    "El servidor no puede guardar mensajes ahora. Los tuyos se enviarán en cuanto pueda.",
  error_not_allowed: "No puedes hacer eso aquí.",
  error_not_found: "Ese mensaje ya no se conserva.",
  error_edit_window_passed:
    "Los mensajes solo se pueden editar durante 15 minutos tras enviarlos.",
  error_muted: "Un moderador te silenció por ahora.",
  error_kicked: "Un moderador te sacó de esta sala por un tiempo.",
  error_room_locked:
    "Esta sala está cerrada: ahora no puede entrar nadie nuevo.",
  error_moderator_key_invalid:
    "Ese enlace de moderación ya no funciona. Pide uno nuevo.",
  edited: "(editado)",
  messageDeleted: "Mensaje eliminado",
  messageRemoved: "Mensaje retirado por un moderador",
  editMessage: "Editar",
  deleteMessage: "Eliminar",
  editMessageLabel: "Editar este mensaje",
  deleteMessageLabel: "Eliminar este mensaje",
  deleteConfirm: "¿Eliminar este mensaje para todos?",
  editing: "Editando un mensaje",
  cancelEdit: "Cancelar",
  muteMember: "Silenciar 10 min",
  kickMember: "Sacar 10 min",
  muteMemberLabel: "Silenciar a {name} durante 10 minutos",
  kickMemberLabel: "Sacar a {name} de la sala durante 10 minutos",
  moderatorBadge: "Moderador",
  moderatorMenu: "Moderar",
  lockRoom: "Cerrar la sala",
  unlockRoom: "Abrir la sala",
  exportText: "Exportar como texto",
  exportJson: "Exportar como JSON",
  lockedBadge: "Cerrada",
  mutedNotice: "{by} silenció a {name} durante {n} min",
  unmutedNotice: "{by} quitó el silencio a {name}",
  kickedNotice: "{by} sacó a {name} de la sala durante {n} min",
  unkickedNotice: "{by} dejó volver a {name}",
  lockedNotice: "{by} cerró la sala: no puede entrar nadie nuevo",
  unlockedNotice: "{by} abrió la sala",
  clearedNotice: "{by} vació el historial de la sala",
  liftMute: "Quitar silencio",
  liftKick: "Dejar volver",
  clearRoom: "Vaciar el historial",
  clearConfirm: "¿Borrar todos los mensajes de esta sala, para todos?",
  statusKicked: "Un moderador te sacó de esta sala.",
  statusLocked: "Esta sala está cerrada: ahora no puede entrar nadie nuevo.",
};

/** The dictionaries, exported so a test can compare their keys. */
export const DICTIONARIES: Readonly<Record<Lang, Record<MessageKey, string>>> =
  { en: EN, es: ES };

export function isLang(value: unknown): value is Lang {
  return value === "es" || value === "en";
}

/**
 * Chooses the UI language: an explicit stored choice wins, then the browser's
 * language (any Spanish variant gives Spanish), then English.
 */
export function pickLang(
  stored: string | null | undefined,
  browserLanguage: string | undefined,
): Lang {
  if (isLang(stored)) return stored;
  return browserLanguage?.toLowerCase().startsWith("es") ? "es" : "en";
}

/** Looks up `key` and fills `{placeholders}` from `vars`. */
export function t(
  lang: Lang,
  key: MessageKey,
  vars: Readonly<Record<string, string | number>> = {},
): string {
  return DICTIONARIES[lang][key].replace(
    /\{(\w+)\}/g,
    (whole, name: string) => {
      const value = vars[name];
      return value === undefined ? whole : String(value);
    },
  );
}

/** True for strings that name an entry in the dictionaries. */
export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(EN, key);
}

/**
 * The translated text for a server error code, or the server's English
 * `fallback` for a code this client does not know.
 */
export function errorText(
  lang: Lang,
  code: ErrorCode | string,
  fallback: string,
): string {
  const key = `error_${code}`;
  return isMessageKey(key) ? t(lang, key) : fallback;
}

/** "(3) #main — Chat" while there are unread messages, else "#main — Chat". */
export function documentTitle(
  lang: Lang,
  room: string,
  unread: number,
  mentions = 0,
): string {
  const base = `#${room} — ${t(lang, "appName")}`;
  const counted = unread > 0 ? `(${unread}) ${base}` : base;
  // Being called shows first, so it is seen in a crowded tab bar.
  return mentions > 0 ? `@${mentions} ${counted}` : counted;
}

/**
 * Several joins or leaves in one line, with the language's own list and
 * plural rules: "Ana, Bea y 3 más se unieron", "Ana, Bea, and 1 other left".
 */
export function crowdText(
  lang: Lang,
  kind: "joined" | "left",
  names: readonly string[],
  others: number,
): string {
  const joined = kind === "joined";
  const total = names.length + others;
  if (names.length === 0) {
    return t(lang, joined ? "joinedCount" : "leftCount", { n: total });
  }
  const more = others === 0 ? [] : [
    t(
      lang,
      new Intl.PluralRules(lang).select(others) === "one"
        ? "otherOne"
        : "otherMany",
      { n: others },
    ),
  ];
  const list = new Intl.ListFormat(lang, { type: "conjunction" })
    .format([...names, ...more]);
  return total === 1
    ? t(lang, kind, { name: list })
    : t(lang, joined ? "joinedSeveral" : "leftSeveral", { names: list });
}
