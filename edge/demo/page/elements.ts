import { byId } from './dom';

/** The elements of index.html the script works with; throws at start when one is missing. */
export function pageElements() {
  return {
    status: byId('status'),
    cities: byId('cities'),
    hint: byId('where-hint'),
    tokenForm: byId<HTMLFormElement>('token-form'),
    token: byId<HTMLTextAreaElement>('token'),
    name: byId<HTMLInputElement>('name'),
    room: byId<HTMLInputElement>('room'),
    region: byId('my-region'),
    node: byId('my-node'),
    route: byId('my-route'),
    rtt: byId('my-rtt'),
    rttHow: byId('my-rtt-how'),
    self: byId('my-self'),
    chatRoom: byId('chat-room'),
    older: byId<HTMLButtonElement>('older'),
    messages: byId<HTMLOListElement>('messages'),
    typing: byId('typing'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLInputElement>('text'),
    send: byId<HTMLButtonElement>('send'),
    healthSource: byId('health-source'),
    map: byId('map') as unknown as SVGSVGElement,
    regions: byId('regions'),
    presence: byId('presence'),
    presenceCount: byId('presence-count'),
  };
}
