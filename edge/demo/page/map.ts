import type { City } from './cities';
import { svg } from './dom';
import type { RegionView } from './regions';

/**
 * Coastlines, very roughly, as `lon,lat lon,lat ...`: enough to see where regions and cities are, small
 * enough to ship in the page.
 */
const LAND: readonly string[] = [
  // North America
  '-168,66 -162,70 -140,70 -120,74 -95,74 -80,73 -62,66 -55,52 -66,44 -70,42 -76,35 -81,31 ' +
    '-80,25 -82,29 -90,30 -97,27 -97,22 -88,21 -87,16 -83,10 -79,8 -84,10 -92,15 -105,20 -110,24 ' +
    '-115,31 -118,34 -124,40 -124,48 -132,55 -140,59 -152,60 -158,57 -165,60',
  // Greenland
  '-55,60 -43,60 -20,70 -18,80 -40,83 -65,80 -72,77 -55,70',
  // South America
  '-79,8 -72,12 -62,10 -50,0 -35,-6 -39,-15 -48,-26 -58,-38 -65,-42 -68,-52 -74,-50 -74,-40 ' +
    '-71,-30 -70,-18 -76,-14 -81,-5 -80,1',
  // Eurasia
  '-10,36 -9,43 -2,44 -5,48 2,51 8,54 10,58 5,62 14,68 25,71 40,68 60,70 80,73 100,77 130,72 ' +
    '160,70 180,68 180,64 165,60 160,55 142,52 140,46 135,43 130,42 127,38 126,35 121,31 122,25 ' +
    '117,23 110,21 108,16 109,12 105,9 103,1.3 101,3 98,8 98,16 94,18 92,22 88,22 80,15 77,8 ' +
    '73,16 72,21 67,25 58,25 56,27 50,30 48,29 51,25 56,26 59,22 52,16 43,13 39,21 35,28 34,31 ' +
    '36,36 28,37 26,40 22,37 20,40 14,45 12,44 16,40 12,38 8,44 3,43 -1,37',
  // Africa
  '-17,15 -16,22 -13,28 -6,36 10,37 11,33 20,31 32,31 34,28 38,18 43,12 51,12 42,-1 40,-10 ' +
    '35,-22 33,-28 26,-34 20,-35 18,-32 12,-18 13,-10 9,-1 9,4 4,6 -8,4 -14,10',
  // Madagascar, Great Britain, Ireland, Japan, Sumatra, Borneo, New Guinea
  '44,-25 47,-25 50,-15 49,-12 44,-17',
  '-5,50 1,51 0,53 -2,56 -5,58 -6,56 -3,54',
  '-10,52 -6,52 -6,55 -8,55',
  '130,31 132,34 135,34 140,35 141,38 142,43 145,44 141,45 140,41 139,38 136,37 132,35',
  '95,5 98,4 104,-2 106,-6 102,-4',
  '109,2 114,5 119,6 118,1 116,-4 110,-3',
  '131,-1 141,-3 150,-10 142,-9 138,-8',
  // Australia, New Zealand
  '114,-22 122,-18 130,-12 137,-12 142,-11 146,-19 153,-26 151,-34 146,-39 138,-35 131,-31 ' + '115,-34',
  '172,-35 178,-38 174,-41 172,-41',
  '172,-41 174,-42 171,-46 167,-46',
];

/** Equirectangular: x = longitude + 180, y = 90 - latitude (the SVG's viewBox is in degrees). */
function xy(lon: number, lat: number): [x: number, y: number] {
  return [lon + 180, 90 - lat];
}

export interface MapScene {
  regions: readonly RegionView[];
  city?: City | undefined;
  /** The region this page is connected to. */
  region?: string | undefined;
}

/** Draws land, the regions (coloured by status), the chosen city and its line to its region. */
export function drawMap(target: SVGSVGElement, scene: MapScene): void {
  const layers: SVGElement[] = [];
  for (const lon of [-120, -60, 0, 60, 120]) {
    layers.push(svg('line', { class: 'grid', x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }));
  }
  for (const lat of [-30, 0, 30, 60]) {
    layers.push(svg('line', { class: 'grid', x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat }));
  }
  for (const shape of LAND) {
    const points = shape.split(' ').map((pair) => {
      const [lon, lat] = pair.split(',').map(Number) as [number, number];
      return xy(lon, lat).join(',');
    });
    layers.push(svg('polygon', { class: 'land', points: points.join(' ') }));
  }
  const mine = scene.regions.find((r) => r.id === scene.region);
  if (scene.city && mine) {
    const [x1, y1] = xy(scene.city.lon, scene.city.lat);
    const [x2, y2] = xy(mine.lon, mine.lat);
    layers.push(svg('line', { class: 'route', x1, y1, x2, y2 }));
  }
  for (const region of scene.regions) {
    const [x, y] = xy(region.lon, region.lat);
    const current = region.id === scene.region ? ' current' : '';
    // Labels on the right, except near the map's right edge.
    const label = x < 280 ? { x: x + 6, 'text-anchor': 'start' } : { x: x - 6, 'text-anchor': 'end' };
    layers.push(
      svg(
        'g',
        { class: `region status-${region.status}${current}` },
        svg('rect', { x: x - 3.5, y: y - 3.5, width: 7, height: 7, rx: 1.5 }),
        svg('text', { ...label, y: y + 3.5 }, region.id),
      ),
    );
  }
  if (scene.city) {
    const [x, y] = xy(scene.city.lon, scene.city.lat);
    // Above and to the left, clear of a region's label on the right; to the right near the map's edge.
    const label = x > 90 ? { x: x - 4, 'text-anchor': 'end' } : { x: x + 4, 'text-anchor': 'start' };
    layers.push(
      svg(
        'g',
        { class: 'city' },
        svg('circle', { cx: x, cy: y, r: 3 }),
        svg('text', { ...label, y: y - 4 }, scene.city.name),
      ),
    );
  }
  target.replaceChildren(...layers);
}
