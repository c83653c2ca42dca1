/** A place a user can say they are; the edge routes by its coordinates (`geo=LAT,LON`). */
export interface City {
  id: string;
  name: string;
  lat: number;
  lon: number;
}

/** A few cities on every continent, west to east. */
export const CITIES: readonly City[] = [
  { id: 'seattle', name: 'Seattle', lat: 47.61, lon: -122.33 },
  { id: 'mexico-city', name: 'Mexico City', lat: 19.43, lon: -99.13 },
  { id: 'new-york', name: 'New York', lat: 40.71, lon: -74.01 },
  { id: 'sao-paulo', name: 'São Paulo', lat: -23.55, lon: -46.63 },
  { id: 'dublin', name: 'Dublin', lat: 53.35, lon: -6.26 },
  { id: 'frankfurt', name: 'Frankfurt', lat: 50.11, lon: 8.68 },
  { id: 'lagos', name: 'Lagos', lat: 6.52, lon: 3.38 },
  { id: 'cape-town', name: 'Cape Town', lat: -33.92, lon: 18.42 },
  { id: 'mumbai', name: 'Mumbai', lat: 19.08, lon: 72.88 },
  { id: 'singapore', name: 'Singapore', lat: 1.35, lon: 103.82 },
  { id: 'tokyo', name: 'Tokyo', lat: 35.68, lon: 139.69 },
  { id: 'sydney', name: 'Sydney', lat: -33.87, lon: 151.21 },
];

export function cityById(id: string | null): City | undefined {
  return CITIES.find((city) => city.id === id);
}
