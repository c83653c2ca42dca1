/** A point on Earth in degrees. */
export interface GeoPoint {
  lat: number;
  lon: number;
}

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Parses `"LAT,LON"` (the simulation's `geo=` query and `x-sim-geo` header); undefined when malformed. */
export function parseGeo(value: string | null | undefined): GeoPoint | undefined {
  if (!value) return undefined;
  const parts = value.split(',').map((p) => p.trim());
  // Number('') is 0: an empty half must not become the equator or the prime meridian.
  if (parts.length !== 2 || parts.some((p) => p === '')) return undefined;
  const [lat, lon] = parts.map(Number) as [number, number];
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return undefined;
  return { lat, lon };
}
