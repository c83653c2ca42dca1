/**
 * The demo page (docs/demo.md): pick a city, get routed by the edge to the nearest healthy region,
 * chat in a room with people in other regions, see who is there and how the regions are doing.
 */
import {
  isValidRoomName,
  newEnvelopeId,
  type Envelope,
  type JsonValue,
  type RealtimeClient,
} from '@edge-realtime/client';
import { ChatView } from './chat';
import { CITIES, cityById, type City } from './cities';
import { h } from './dom';
import { pageElements } from './elements';
import { drawMap } from './map';
import { PresenceView } from './presence';
import { TypingIndicator, isTypingEvent } from './typing';
import { renderRegions, watchRegions, type RegionsSnapshot } from './regions';
import { edgeIsSimulation, openClient, routeFor, subjectOf, type RouteAnswer } from './session';

const HISTORY_PAGE = 25;
const PRESENCE_EVERY_MS = 5_000;
const NAMES = ['ada', 'grace', 'alan', 'barbara', 'edsger', 'frances', 'ken', 'radia', 'linus', 'margaret'];

const ui = pageElements();

const chat = new ChatView(ui.messages);
const presence = new PresenceView(ui.presence, ui.presenceCount);
const typing = new TypingIndicator(ui.typing);

/** The page's one connection and what it is connected as. */
const page = {
  sim: false,
  client: undefined as RealtimeClient | undefined,
  city: undefined as City | undefined,
  region: undefined as string | undefined,
  room: 'lobby',
  name: '',
  /** Bumped by every (re)connect, so answers of an older connection are ignored. */
  generation: 0,
  presenceTimer: undefined as ReturnType<typeof setInterval> | undefined,
  regions: undefined as RegionsSnapshot | undefined,
};

type Status = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'error';

function setStatus(state: Status, text: string): void {
  ui.status.dataset.state = state;
  ui.status.className = `pill pill-${state}`;
  ui.status.textContent = text;
}

function redrawRegions(): void {
  if (page.regions) renderRegions(ui.regions, page.regions, page.region);
  drawMap(ui.map, { regions: page.regions?.regions ?? [], city: page.city, region: page.region });
}

function showRoute(route: RouteAnswer | undefined): void {
  if (!route) {
    ui.route.textContent = 'no region is taking new sessions';
    return;
  }
  const from = page.city ? ` from ${page.city.name}` : '';
  const next = route.failover.length ? `; failover: ${route.failover.join(', ')}` : '';
  ui.route.textContent = `${route.reason}, ${Math.round(route.distanceKm).toLocaleString()} km${from}${next}`;
}

function showRoundTrip(ms: number, how: string): void {
  ui.rtt.textContent = `${Math.max(1, Math.round(ms))} ms`;
  ui.rttHow.textContent = how;
}

function setComposer(enabled: boolean): void {
  ui.text.disabled = !enabled;
  ui.send.disabled = !enabled;
}

/** Closes the current connection (if any) and connects as `ui.name` from `city`. */
async function connect(city: City | undefined, token?: string): Promise<void> {
  const generation = ++page.generation;
  page.client?.close();
  clearInterval(page.presenceTimer);
  page.client = undefined;
  page.city = city;
  page.region = undefined;
  page.name = ui.name.value.trim() || randomName();
  ui.name.value = page.name;
  for (const button of ui.cities.querySelectorAll('button')) {
    button.classList.toggle('selected', button.dataset.city === city?.id);
  }
  ui.region.textContent = '…';
  ui.node.textContent = '';
  ui.route.textContent = '…';
  ui.rtt.textContent = '—';
  ui.rttHow.textContent = '';
  ui.self.textContent = city ? `${page.name} in ${city.name}` : page.name;
  setComposer(false);
  presence.clear();
  chat.reset('Connecting…');
  setStatus('connecting', city ? `connecting from ${city.name}…` : 'connecting…');
  redrawRegions();
  try {
    const [route, client] = await Promise.all([routeFor(city), openClient({ name: page.name, city, token })]);
    if (generation !== page.generation) return client.close();
    page.client = client;
    showRoute(route);
    listen(client, generation);
    await enterRoom(page.room, generation);
  } catch (err) {
    if (generation === page.generation) setStatus('error', `not connected: ${(err as Error).message}`);
  }
}

function listen(client: RealtimeClient, generation: number): void {
  const current = () => generation === page.generation;
  client.on('session', ({ region, node }) => {
    if (!current()) return;
    page.region = region;
    ui.region.textContent = region;
    ui.node.textContent = `node ${node}`;
    setStatus('connected', `connected to ${region}`);
    redrawRegions();
  });
  client.on('message', (envelope) => {
    if (!current() || envelope.room !== page.room) return;
    // Typing events are ephemeral publishes: shown for a moment, never in the chat or its history.
    if (isTypingEvent(envelope)) return typing.show(envelope.user);
    typing.stop(envelope.user);
    chat.show(envelope);
  });
  client.on('presence', (event) => {
    if (!current() || event.room !== page.room) return;
    presence.apply(event);
    if (event.state === 'leave') typing.stop(event.user);
  });
  client.on('disconnected', (reason) => {
    if (current()) setStatus('reconnecting', `reconnecting (${reason})…`);
  });
  client.on('rejoined', () => {
    if (current()) void measurePresence(generation);
  });
  client.on('error', (error) => {
    if (current()) setStatus('error', `${error.code}: ${error.message}`);
  });
}

/** Joins `room`, shows its latest history page and who is there, and keeps the presence fresh. */
async function enterRoom(room: string, generation: number): Promise<void> {
  const client = page.client;
  if (!client) return;
  page.room = room;
  ui.chatRoom.textContent = `#${room}`;
  chat.reset('Loading history…');
  await client.join(room);
  if (generation !== page.generation) return;
  setComposer(true);
  ui.text.focus();
  try {
    const latest = await client.history(room, { limit: HISTORY_PAGE });
    for (const envelope of latest) chat.show(envelope);
    setOlder(latest.length === HISTORY_PAGE);
  } catch (err) {
    setOlder(false);
    ui.older.textContent = `history unavailable (${(err as Error).message})`;
  }
  if (!chat.oldest) chat.reset('No messages yet: say hello, then open another tab in another city.');
  await measurePresence(generation);
  clearInterval(page.presenceTimer);
  page.presenceTimer = setInterval(() => void measurePresence(generation), PRESENCE_EVERY_MS);
}

/** A `presence` request: refreshes the member list and measures the round trip of its ack. */
async function measurePresence(generation: number): Promise<void> {
  const client = page.client;
  if (!client || generation !== page.generation || !client.connected) return;
  const started = performance.now();
  try {
    const list = await client.presence(page.room);
    if (generation !== page.generation) return;
    showRoundTrip(performance.now() - started, `presence ack, every ${PRESENCE_EVERY_MS / 1000} s`);
    presence.replace(list.members, list.count);
  } catch {
    // The next round (or the reconnect) tries again; the status pill shows connection trouble.
  }
}

async function publish(text: string): Promise<void> {
  const client = page.client;
  if (!client) return;
  const data: JsonValue = page.city ? { text, city: page.city.name } : { text };
  const envelope = {
    id: newEnvelopeId(),
    room: page.room,
    data,
    user: page.name,
    origin: page.region ?? '…',
    ts: Date.now(),
  } satisfies Envelope;
  chat.show(envelope, { state: 'sending' }, true);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  const started = performance.now();
  try {
    const ack = await client.publish(envelope.room, data, { id: envelope.id });
    const ackMs = performance.now() - started;
    chat.show({ ...envelope, ts: ack.ts }, { state: 'sent', ackMs }, true);
    showRoundTrip(ackMs, 'publish ack');
  } catch (err) {
    chat.show(envelope, { state: 'failed', why: (err as Error).message }, true);
  }
}

function setOlder(more: boolean): void {
  ui.older.disabled = !more;
  ui.older.textContent = more ? 'Load older' : 'No older messages';
}

async function loadOlder(): Promise<void> {
  const client = page.client;
  const oldest = chat.oldest;
  if (!client || !oldest) return;
  ui.older.disabled = true;
  const height = ui.messages.scrollHeight;
  try {
    const older = await client.history(page.room, { before: oldest.id, limit: HISTORY_PAGE });
    for (const envelope of older) chat.show(envelope);
    ui.messages.scrollTop += ui.messages.scrollHeight - height;
    setOlder(older.length === HISTORY_PAGE);
  } catch (err) {
    ui.older.disabled = false;
    ui.older.textContent = `retry (${(err as Error).message})`;
  }
}

function randomName(): string {
  return `${NAMES[Math.floor(Math.random() * NAMES.length)]}-${Math.floor(Math.random() * 90 + 10)}`;
}

/** The composer, the history button, the room and name fields and the token form. */
function wireControls(): void {
  ui.composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    ui.text.value = '';
    typing.sent();
    if (text) void publish(text);
  });
  ui.text.addEventListener('input', () => {
    if (page.client?.connected && ui.text.value.trim()) typing.typed(page.client, page.room);
  });
  ui.older.addEventListener('click', () => void loadOlder());
  ui.room.addEventListener('change', () => {
    const next = ui.room.value.trim();
    if (!isValidRoomName(next)) {
      ui.room.value = page.room;
      return;
    }
    if (next === page.room) return;
    const previous = page.room;
    page.room = next;
    ui.chatRoom.textContent = `#${next}`;
    presence.clear();
    typing.clear();
    if (page.client) {
      void page.client.leave(previous).catch(() => undefined);
      void enterRoom(next, page.generation).catch((err: Error) => setStatus('error', err.message));
    }
  });
  ui.name.addEventListener('change', () => {
    if (page.client && page.sim) void connect(page.city);
  });
  ui.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = ui.token.value.trim();
    if (!token) return;
    ui.name.value = subjectOf(token) ?? ui.name.value;
    void connect(undefined, token);
  });
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  ui.name.value = params.get('name') ?? randomName();
  const room = params.get('room');
  page.room = room && isValidRoomName(room) ? room : 'lobby';
  ui.room.value = page.room;
  ui.chatRoom.textContent = `#${page.room}`;

  ui.cities.replaceChildren(
    ...CITIES.map((city) =>
      h(
        'button',
        { type: 'button', class: 'city-button', 'data-city': city.id, onclick: () => void connect(city) },
        city.name,
      ),
    ),
  );
  wireControls();

  watchRegions(
    (snapshot) => {
      page.regions = snapshot;
      const live = snapshot.health.source === 'live';
      ui.healthSource.textContent = live ? '· live health' : '· static registry';
      ui.healthSource.title = live ? '' : (snapshot.health.reason ?? '');
      redrawRegions();
    },
    (err) => (ui.healthSource.textContent = `· ${err.message}`),
  );
  redrawRegions();

  page.sim = await edgeIsSimulation();
  if (!page.sim) {
    ui.cities.hidden = true;
    ui.tokenForm.hidden = false;
    chat.reset('Paste an access token and connect to join the room.');
    ui.hint.textContent =
      'This edge routes you by where you really are, and mints no tokens: paste an access token ' +
      '(a JWT signed with the platform’s JWT_SECRET, see docs/demo.md).';
    return;
  }
  const city = cityById(params.get('city'));
  if (city) void connect(city);
}

void start();
