import { lazy, Suspense, type ReactNode } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { currentSession } from "./lib/auth";
import { Layout } from "./components/Layout";
import { SignInPage } from "./pages/SignInPage";

// Pages other than sign-in are split into their own chunks: the initial download stays small.
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const AccountsPage = lazy(() => import("./pages/AccountsPage"));
const StrategiesPage = lazy(() => import("./pages/StrategiesPage"));
const BuilderPage = lazy(() => import("./pages/BuilderPage"));
const StrategyDetailPage = lazy(() => import("./pages/StrategyDetailPage"));
const HistoryPage = lazy(() => import("./pages/HistoryPage"));
const ProfilePage = lazy(() => import("./pages/ProfilePage"));
const MarketplacePage = lazy(() => import("./pages/MarketplacePage"));
const MarketplaceBasketPage = lazy(() => import("./pages/MarketplaceBasketPage"));
const MarketplaceSubscriptionsPage = lazy(() => import("./pages/MarketplaceSubscriptionsPage"));
const TemplatesPage = lazy(() => import("./pages/TemplatesPage"));

export function makeQueryClient() {
  return new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });
}

function RequireAuth({ children }: { children: ReactNode }) {
  return currentSession() ? <>{children}</> : <Navigate to="/signin" replace />;
}

export function App({ client = makeQueryClient() }: { client?: QueryClient }) {
  return (
    <QueryClientProvider client={client}>
      <BrowserRouter basename={import.meta.env.BASE_URL.replace(/\/$/, "")}>
        <Suspense fallback={<p className="loading">Loading…</p>}>
          <Routes>
            <Route path="/signin" element={<SignInPage />} />
            <Route element={<RequireAuth><Layout /></RequireAuth>}>
              <Route index element={<DashboardPage />} />
              <Route path="accounts" element={<AccountsPage />} />
              <Route path="strategies" element={<StrategiesPage />} />
              <Route path="strategies/new" element={<BuilderPage />} />
              <Route path="strategies/:strategyId" element={<StrategyDetailPage />} />
              <Route path="strategies/:strategyId/edit" element={<BuilderPage />} />
              <Route path="history" element={<HistoryPage />} />
              <Route path="profile" element={<ProfilePage />} />
              <Route path="marketplace" element={<MarketplacePage />} />
              <Route path="marketplace/subscriptions" element={<MarketplaceSubscriptionsPage />} />
              <Route path="marketplace/subscriptions/:subscriptionId" element={<MarketplaceSubscriptionsPage />} />
              <Route path="marketplace/templates" element={<TemplatesPage />} />
              <Route path="marketplace/:basketId" element={<MarketplaceBasketPage />} />
            </Route>
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </Suspense>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
